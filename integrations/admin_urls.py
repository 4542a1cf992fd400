"""The organisation's alert pages, mounted at /o/<org_slug>/integrations/."""

from django.urls import path

from integrations import admin_views as views
from integrations.pagerduty import views as pagerduty_views

app_name = "integrations"

urlpatterns = [
    path("", views.source_list, name="source_list"),
    path("new/", views.source_create, name="source_create"),
    path("<int:pk>/", views.source_detail, name="source_detail"),
    path("<int:pk>/edit/", views.source_update, name="source_update"),
    path("<int:pk>/enabled/", views.source_toggle, name="source_toggle"),
    path("<int:pk>/rotate/", views.source_rotate, name="source_rotate"),
    path("<int:pk>/test/", views.source_test, name="source_test"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", views.rule_update, name="rule_update"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("maintenance/", views.window_list, name="window_list"),
    path("maintenance/new/", views.window_create, name="window_create"),
    path("maintenance/<int:pk>/", views.window_update, name="window_update"),
    path("maintenance/<int:pk>/delete/", views.window_delete, name="window_delete"),
    path("pagerduty/", pagerduty_views.service_list, name="pagerduty_list"),
    path("pagerduty/new/", pagerduty_views.service_create, name="pagerduty_create"),
    path("pagerduty/<int:pk>/", pagerduty_views.service_update, name="pagerduty_update"),
    path("pagerduty/<int:pk>/delete/", pagerduty_views.service_delete, name="pagerduty_delete"),
]
