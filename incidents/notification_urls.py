from django.urls import path

from incidents import notification_views as views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("bell/", views.notification_bell, name="notification_bell"),
    path("read/", views.notification_mark_read, name="notification_mark_read"),
    path("<int:pk>/open/", views.notification_open, name="notification_open"),
    path("preferences/", views.preference_update, name="preference_update"),
    path("deliveries/", views.delivery_list, name="delivery_list"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
    path("chat/", views.chat_webhook_list, name="chat_webhook_list"),
    path("chat/<int:pk>/", views.chat_webhook_update, name="chat_webhook_update"),
    path("chat/<int:pk>/active/", views.chat_webhook_set_active, name="chat_webhook_set_active"),
    path("chat/<int:pk>/test/", views.chat_webhook_test, name="chat_webhook_test"),
]
