from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from compliance import models
        from tenancy.audit import audit_register

        audit_register(models.Framework)
        audit_register(models.Obligation)
        audit_register(models.IncidentFacts, exclude_fields=["updated_at"])
        audit_register(
            models.IncidentObligation,
            exclude_fields=["next_fire_at", "remind_50_at", "remind_80_at"],
        )
        audit_register(models.Unmask)
