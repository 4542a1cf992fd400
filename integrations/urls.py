from django.urls import path

from integrations import views

urlpatterns = [
    path("<str:public_id>/", views.hook, name="hook"),
    path("<str:public_id>/heartbeat", views.hook, {"heartbeat": True}, name="hook_heartbeat"),
    path("<str:public_id>/<str:secret>/", views.hook, name="hook_secret_in_url"),
]
