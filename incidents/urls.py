from django.urls import path

from incidents import sla_views, views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="incident_list"),
    path("export.csv", views.incident_export, name="incident_export"),
    path("bulk/", views.incident_bulk, name="incident_bulk"),
    path("new/", views.incident_create, name="incident_create"),
    path("new/assist/", views.incident_create_assist, name="incident_create_assist"),
    path("search/", views.incident_search_jump, name="incident_search"),
    path("pick/", views.incident_pick, name="incident_pick"),
    path("classification/", views.classification_quality, name="classification_quality"),
    path("sla/", sla_views.sla_policy_list, name="sla_policy_list"),
    path("sla/new/", sla_views.sla_policy_edit, name="sla_policy_create"),
    path("sla/<int:pk>/", sla_views.sla_policy_edit, name="sla_policy_update"),
    path("sla/<int:pk>/delete/", sla_views.sla_policy_delete, name="sla_policy_delete"),
    path("sla/calendar/", sla_views.sla_calendar_save, name="sla_calendar_save"),
    path("sla/holidays/", sla_views.sla_holiday_add, name="sla_holiday_add"),
    path("sla/holidays/<int:pk>/delete/", sla_views.sla_holiday_delete, name="sla_holiday_delete"),
    path("<str:key>/", views.incident_detail, name="incident_detail"),
    path("<str:key>/timeline/", views.incident_timeline, name="incident_timeline"),
    path("<str:key>/edit/", views.incident_update, name="incident_update"),
    path("<str:key>/severity/", views.incident_severity, name="incident_severity"),
    path("<str:key>/comment/", views.incident_comment, name="incident_comment"),
    path("<str:key>/access/", views.incident_access, name="incident_access"),
    path("<str:key>/transition/<str:name>/", views.incident_transition, name="incident_transition"),
    path(
        "<str:key>/verification/request/",
        views.verification_request,
        name="verification_request",
    ),
    path(
        "<str:key>/verification/health-check/",
        views.verification_health_check,
        name="verification_health_check",
    ),
    path(
        "<str:key>/verification/<int:pk>/answer/",
        views.verification_answer,
        name="verification_answer",
    ),
    path("<str:key>/ownership/", views.ownership_request, name="ownership_request"),
    path("<str:key>/sla/<int:pk>/pause/", views.sla_pause, name="sla_pause"),
    path("<str:key>/sla/<int:pk>/resume/", views.sla_resume, name="sla_resume"),
    path("<str:key>/ownership/<int:pk>/decide/", views.ownership_decide, name="ownership_decide"),
]
