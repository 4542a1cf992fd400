from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from incidents import models
        from tenancy.audit import audit_register
        from tenancy.demo import register_seeder

        audit_register(
            models.Incident,
            exclude_fields=["version", "updated_at"],
            m2m_fields={"affected_services", "involved_teams"},
        )
        audit_register(models.TimelineEvent)
        audit_register(models.ImpactPeriod)
        audit_register(models.Verification)
        audit_register(models.OwnershipRequest)
        audit_register(models.SlaPolicy)
        audit_register(models.SlaTimer)
        audit_register(models.BusinessCalendar, m2m_fields=set())
        audit_register(models.Holiday)
        audit_register(models.EscalationRun)
        audit_register(models.Notification)
        # Incoming-webhook URLs are credentials: their path is the secret.
        audit_register(models.Delivery, exclude_fields=["payload", "target"])
        audit_register(models.NotificationPreference)
        audit_register(models.ChatWebhook, exclude_fields=["url"])
        audit_register(models.IncidentUserObjectPermission)
        audit_register(models.IncidentGroupObjectPermission)
        audit_register(models.IncidentRole)
        audit_register(models.StatusCadence)
        audit_register(models.StatusUpdateTemplate)
        audit_register(models.StatusUpdate)
        audit_register(models.StatusDeadline)
        audit_register(models.Handoff)
        audit_register(models.OpenQuestion)

        from django.db.models.signals import post_save

        from incidents import demo
        from incidents.sla_defaults import seed_sla_defaults
        from tenancy.models import Organization

        register_seeder("sla", 15, seed_sla_defaults)
        register_seeder("incidents", 20, demo.seed_incidents)
        register_seeder("coordination", 25, demo.seed_coordination)
        post_save.connect(_seed_new_organization, sender=Organization, dispatch_uid="sla-defaults")


def _seed_new_organization(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from incidents.coordination import seed_status_templates
        from incidents.sla_defaults import seed_sla_defaults
        from tenancy.scoping import org_scope

        with org_scope(instance):  # the new organisation's rows, also for row-level security
            seed_sla_defaults(instance)
            seed_status_templates(instance)
