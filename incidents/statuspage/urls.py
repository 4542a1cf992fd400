"""Internal pages (spokespersons, templates, messages), mounted at /o/<org>/status-page/."""

from django.urls import path

from incidents.statuspage import views

app_name = "statuspage"

urlpatterns = [
    path("", views.message_list, name="message_list"),
    path("messages/new/", views.message_create, name="message_create"),
    path("messages/<int:pk>/", views.message_detail, name="message_detail"),
    path("messages/<int:pk>/edit/", views.message_update, name="message_update"),
    path("messages/<int:pk>/approve/", views.message_approve, name="message_approve"),
    path("messages/<int:pk>/publish/", views.message_publish, name="message_publish"),
    path("messages/<int:pk>/delete/", views.message_delete, name="message_delete"),
    path("components/", views.component_list, name="component_list"),
    path("components/new/", views.component_edit, name="component_create"),
    path("components/<int:pk>/", views.component_edit, name="component_update"),
    path("components/<int:pk>/delete/", views.component_delete, name="component_delete"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/new/", views.template_edit, name="template_create"),
    path("templates/<int:pk>/", views.template_edit, name="template_update"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
    path("spokespersons/", views.spokesperson_list, name="spokesperson_list"),
    path(
        "spokespersons/<int:pk>/remove/",
        views.spokesperson_remove,
        name="spokesperson_remove",
    ),
    path("settings/", views.settings_edit, name="settings"),
]
