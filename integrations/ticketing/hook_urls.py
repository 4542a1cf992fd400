from django.urls import path

from integrations.ticketing import hook_views

urlpatterns = [
    path("<str:public_id>/", hook_views.ticket_hook, name="ticketing_hook"),
]
