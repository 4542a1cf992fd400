"""Mounted at /o/<org_slug>/integrations/ticketing/."""

from django.urls import path

from integrations.ticketing import views

app_name = "ticketing"

urlpatterns = [
    path("", views.integration_list, name="integration_list"),
    path("new/", views.integration_create, name="integration_create"),
    path("<int:pk>/", views.integration_detail, name="integration_detail"),
    path("<int:pk>/edit/", views.integration_update, name="integration_update"),
    path("<int:pk>/enabled/", views.integration_toggle, name="integration_toggle"),
    path("<int:pk>/rotate/", views.integration_rotate, name="integration_rotate"),
    path("<int:pk>/delete/", views.integration_delete, name="integration_delete"),
]
