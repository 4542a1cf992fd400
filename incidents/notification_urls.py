from django.urls import path

from incidents import notification_views as views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
]
