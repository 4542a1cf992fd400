from django.urls import path

from integrations import views
from integrations.pagerduty import webhooks as pagerduty_webhooks

urlpatterns = [
    # Before the source patterns, which would take "pagerduty/<id>/" for "<id>/<secret>/".
    path("pagerduty/<str:public_id>/", pagerduty_webhooks.receive, name="pagerduty_hook"),
    path("<str:public_id>/", views.hook, name="hook"),
    path("<str:public_id>/heartbeat", views.hook, {"heartbeat": True}, name="hook_heartbeat"),
    path("<str:public_id>/<str:secret>/", views.hook, name="hook_secret_in_url"),
]
