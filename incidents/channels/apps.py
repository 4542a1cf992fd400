from django.apps import AppConfig


class IncidentChannelsConfig(AppConfig):
    name = "incidents.channels"
    label = "incident_channels"
    verbose_name = "Incident channels"

    def ready(self) -> None:
        from incidents import signals
        from incidents.channels import demo, models, receivers
        from tenancy.audit import audit_register
        from tenancy.demo import register_seeder

        # The bot token is a credential: never in the audit trail.
        audit_register(models.ChannelSettings, exclude_fields=["slack_token", "updated_at"])
        audit_register(
            models.IncidentChannel, exclude_fields=["queued_at", "next_attempt_at", "attempts"]
        )
        audit_register(models.WarRoomMessage)
        audit_register(
            models.OutboundChannelMessage, exclude_fields=["queued_at", "next_attempt_at"]
        )

        signals.incident_created.connect(
            receivers.on_incident_created, sender=None, dispatch_uid="channels-created"
        )
        signals.incident_changed.connect(
            receivers.on_incident_changed, sender=None, dispatch_uid="channels-changed"
        )
        signals.incident_broadcast.connect(
            receivers.on_incident_broadcast, sender=None, dispatch_uid="channels-broadcast"
        )
        register_seeder("channels", 40, demo.seed_channels)
