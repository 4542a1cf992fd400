"""Per-incident channel pages, mounted at /o/<org>/incidents/<key>/channels/."""

from django.urls import path

from incidents.channels import views

app_name = "incident_channels"

urlpatterns = [
    path("war-room/", views.war_room, name="war_room"),
    path("war-room/messages/", views.war_room_messages, name="war_room_messages"),
    path("war-room/post/", views.war_room_post, name="war_room_post"),
    path("open/", views.channels_open, name="channels_open"),
    path("<int:pk>/retry/", views.channel_retry, name="channel_retry"),
]
