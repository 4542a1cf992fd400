from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("audit/", views.audit_list, name="audit_list"),
]

# — unmasking (masking on every surface) —
urlpatterns += [
    path("unmask/<str:key>/", views.incident_unmask, name="incident_unmask"),
    path("unmask/<str:key>/end/", views.incident_remask, name="incident_remask"),
]
