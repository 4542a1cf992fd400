"""The public status page, mounted at /status/<org>/ (no login)."""

from django.urls import path

from incidents.statuspage import public_views

app_name = "status_public"

urlpatterns = [
    path("", public_views.status_page, name="page"),
    path("feed.atom", public_views.status_feed, name="feed"),
    path("subscribe/", public_views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", public_views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", public_views.unsubscribe, name="unsubscribe"),
]
