from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.obligation_overview, name="obligation_overview"),
    path("frameworks/", views.framework_list, name="framework_list"),
    path("obligations/<slug:obligation_key>/edit/", views.obligation_edit, name="obligation_edit"),
    path("incidents/<str:key>/", views.incident_obligations, name="incident_obligations"),
    path(
        "incidents/<str:key>/obligations/<int:pk>/",
        views.obligation_status,
        name="obligation_status",
    ),
    path("audit/", views.audit_list, name="audit_list"),
]

# Audit hash chain and audit-trail export.
urlpatterns += [
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/export/", views.audit_export_view, name="audit_export"),
]

# — unmasking (masking on every surface) —
urlpatterns += [
    path("unmask/<str:key>/", views.incident_unmask, name="incident_unmask"),
    path("unmask/<str:key>/end/", views.incident_remask, name="incident_remask"),
]
