from django.apps import AppConfig


class ComplianceRetentionConfig(AppConfig):
    name = "compliance.retention"
    label = "compliance_retention"
    verbose_name = "Compliance retention"

    def ready(self) -> None:
        from compliance.retention import models
        from compliance.retention.types import register_record_types
        from tenancy.audit import audit_register

        audit_register(models.RetentionPolicy, exclude_fields=["updated_at"])
        audit_register(models.LegalHold, m2m_fields={"incidents", "services"})
        audit_register(models.PurgeReceipt)
        audit_register(models.AnonymisedIncident)
        register_record_types()
