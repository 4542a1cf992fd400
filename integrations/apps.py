from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from integrations import models
        from tenancy.audit import audit_register

        audit_register(
            models.AlertSource,
            exclude_fields=[
                "secret_hash",
                "previous_secret_hash",
                "hmac_secret",
                "previous_hmac_secret",
                "outbound_secret",
                "last_heartbeat_at",
                "rejected_count",
            ],
        )
        audit_register(models.CorrelationRule)
        audit_register(models.MaintenanceWindow)
        audit_register(models.OutboundCall, exclude_fields=["payload", "response"])

        from django.db.models.signals import post_delete, post_save

        from integrations.ingest import forget_cached

        for model in (models.AlertSource, models.MaintenanceWindow, models.CorrelationRule):
            post_save.connect(forget_cached, sender=model, dispatch_uid=f"ingest-cache-{model}")
            post_delete.connect(forget_cached, sender=model, dispatch_uid=f"ingest-cache-d-{model}")

        from incidents.registry import duplicate_movers, transition_hooks
        from integrations.outbound import on_transition

        if _move_alert_groups not in duplicate_movers:
            duplicate_movers.append(_move_alert_groups)
        if on_transition not in transition_hooks:
            transition_hooks.append(on_transition)

        # PagerDuty paging: a step target kind, the page when a step fires, the resolve.
        from incidents.registry import escalation_pagers
        from integrations.pagerduty import events as pagerduty_events
        from taxonomy.registry import step_targets

        audit_register(models.PagerDutyService, mask_fields=["routing_key", "webhook_secret"])
        audit_register(models.PagerDutyEvent, exclude_fields=["payload", "response"])
        step_targets["pagerduty"] = _PagerDutyTargets()
        if pagerduty_events.page not in escalation_pagers:
            escalation_pagers.append(pagerduty_events.page)
        if pagerduty_events.on_transition not in transition_hooks:
            transition_hooks.append(pagerduty_events.on_transition)


def _move_alert_groups(*, duplicate, primary) -> None:
    """mark_duplicate moves the duplicate's alert groups to the primary; nothing is deleted."""
    from integrations.models import AlertGroup

    AlertGroup.objects.filter(incident=duplicate).update(incident=primary)


class _PagerDutyTargets:
    """What an escalation step of kind "pagerduty" may point at: the organisation's enabled
    PagerDuty services, by public id."""

    def choices(self, organization):
        from integrations.pagerduty.models import PagerDutyService

        return [
            (s.public_id, s.name)
            for s in PagerDutyService.objects.filter(
                organization=organization, is_enabled=True
            ).order_by("name")
        ]

    def label(self, organization_id, value):
        from django_scopes import scopes_disabled

        from integrations.pagerduty.models import PagerDutyService

        with scopes_disabled():  # a label for a step of `organization_id`, filtered by it
            name = (
                PagerDutyService.objects.filter(organization_id=organization_id, public_id=value)
                .values_list("name", flat=True)
                .first()
            )
        return f"PagerDuty service {name}" if name else "a removed PagerDuty service"
