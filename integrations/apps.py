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


def _move_alert_groups(*, duplicate, primary) -> None:
    """mark_duplicate moves the duplicate's alert groups to the primary; nothing is deleted."""
    from integrations.models import AlertGroup

    AlertGroup.objects.filter(incident=duplicate).update(incident=primary)
