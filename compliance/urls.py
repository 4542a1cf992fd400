from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("audit/", views.audit_list, name="audit_list"),
]

# Audit hash chain and audit-trail export.
urlpatterns += [
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/export/", views.audit_export_view, name="audit_export"),
]
