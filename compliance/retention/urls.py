from django.urls import path

from compliance.retention import views

app_name = "compliance_retention"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("policies/<slug:record_type>/", views.policy_edit, name="policy_edit"),
    path("holds/new/", views.hold_create, name="hold_create"),
    path("holds/<int:pk>/release/", views.hold_release, name="hold_release"),
    path("preview/", views.preview, name="preview"),
    path("purge/", views.purge_run, name="purge_run"),
    path("receipts/", views.receipt_list, name="receipt_list"),
]
