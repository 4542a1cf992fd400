from django.apps import AppConfig


class ComplianceReportsConfig(AppConfig):
    name = "compliance.reports"
    label = "compliance_reports"
    verbose_name = "Compliance reports"
