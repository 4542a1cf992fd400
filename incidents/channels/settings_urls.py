"""The organisation's channel settings, mounted at /o/<org>/settings/channels/."""

from django.urls import path

from incidents.channels import views

app_name = "channel_settings"

urlpatterns = [
    path("", views.channel_settings, name="settings"),
    path("test-slack/", views.slack_test, name="slack_test"),
]
