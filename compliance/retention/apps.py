from django.apps import AppConfig


class ComplianceRetentionConfig(AppConfig):
    name = "compliance.retention"
    label = "compliance_retention"
    verbose_name = "Compliance retention"
