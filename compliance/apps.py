from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from compliance import demo, models, obligations
        from incidents import signals
        from tenancy.audit import audit_register
        from tenancy.demo import register_seeder

        audit_register(models.Framework)
        audit_register(models.Obligation)
        audit_register(models.IncidentFacts, exclude_fields=["updated_at"])
        audit_register(
            models.IncidentObligation,
            exclude_fields=["next_fire_at", "remind_50_at", "remind_80_at"],
        )

        # Obligations follow the incident: facts, custom fields, detection/resolution times.
        for signal, uid in (
            (signals.incident_created, "compliance-created"),
            (signals.incident_changed, "compliance-changed"),
            (signals.incident_transitioned, "compliance-transitioned"),
        ):
            signal.connect(obligations.on_incident_event, sender=None, dispatch_uid=uid)
        register_seeder("compliance", 60, demo.seed_compliance)
        audit_register(models.Unmask)
