from django.urls import path

from incidents import coordination_views as coord
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
    path("status-updates/", coord.status_settings, name="status_settings"),
    path("status-updates/cadence/", coord.cadence_save, name="status_cadence_save"),
    path("status-updates/templates/new/", coord.template_edit, name="status_template_create"),
    path("status-updates/templates/<int:pk>/", coord.template_edit, name="status_template_update"),
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
    # coordination: roles, status updates, handoffs, decisions, open questions
    path("<str:key>/roles/assign/", coord.role_assign, name="role_assign"),
    path("<str:key>/roles/take/", coord.role_take, name="role_take"),
    path("<str:key>/roles/<int:pk>/release/", coord.role_release, name="role_release"),
    path("<str:key>/updates/", coord.status_update_list, name="status_update_list"),
    path("<str:key>/updates/new/", coord.status_update_create, name="status_update_create"),
    path("<str:key>/handoffs/", coord.handoff_list, name="handoff_list"),
    path("<str:key>/handoffs/new/", coord.handoff_create, name="handoff_create"),
    path("<str:key>/handoffs/<int:pk>/", coord.handoff_detail, name="handoff_detail"),
    path(
        "<str:key>/handoffs/<int:pk>/acknowledge/",
        coord.handoff_acknowledge,
        name="handoff_acknowledge",
    ),
    path("<str:key>/handoffs/<int:pk>/cancel/", coord.handoff_cancel, name="handoff_cancel"),
    path("<str:key>/decisions/", coord.decision_create, name="decision_create"),
    path("<str:key>/decisions/<int:pk>/pin/", coord.decision_pin, name="decision_pin"),
    path("<str:key>/questions/", coord.question_create, name="question_create"),
    path("<str:key>/questions/<int:pk>/answer/", coord.question_answer, name="question_answer"),
]
