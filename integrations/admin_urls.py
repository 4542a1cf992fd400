from django.urls import path

from integrations import admin_views as views

app_name = "integrations"

urlpatterns = [
    path("", views.source_list, name="source_list"),
]
