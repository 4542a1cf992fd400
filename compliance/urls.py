from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("audit/", views.audit_list, name="audit_list"),
]
