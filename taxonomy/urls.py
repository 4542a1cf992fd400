from django.urls import path

from taxonomy import views

app_name = "taxonomy"

urlpatterns = [
    path("", views.index, name="index"),
    path("categories/", views.category_list, name="category_list"),
    path("categories/new/", views.category_create, name="category_create"),
    path("categories/<int:pk>/", views.category_update, name="category_update"),
    path("categories/<int:pk>/delete/", views.category_delete, name="category_delete"),
    path("services/", views.service_list, name="service_list"),
    path("services/new/", views.service_create, name="service_create"),
    path("services/<int:pk>/", views.service_update, name="service_update"),
    path("services/<int:pk>/delete/", views.service_delete, name="service_delete"),
    path("severities/", views.severity_list, name="severity_list"),
    path("severities/<int:pk>/", views.severity_update, name="severity_update"),
    path("escalation/", views.escalation_path_list, name="escalation_path_list"),
    path("escalation/new/", views.escalation_path_create, name="escalation_path_create"),
    path("escalation/<int:pk>/", views.escalation_path_update, name="escalation_path_update"),
    path(
        "escalation/<int:pk>/delete/",
        views.escalation_path_delete,
        name="escalation_path_delete",
    ),
    path("escalation/<int:pk>/steps/", views.escalation_step_add, name="escalation_step_add"),
    path(
        "escalation/<int:pk>/steps/<int:step_pk>/remove/",
        views.escalation_step_remove,
        name="escalation_step_remove",
    ),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", views.rule_update, name="rule_update"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("fields/", views.custom_field_list, name="custom_field_list"),
    path("fields/new/", views.custom_field_create, name="custom_field_create"),
    path("fields/<int:pk>/", views.custom_field_update, name="custom_field_update"),
]
