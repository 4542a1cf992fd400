from django.apps import AppConfig


class TicketingConfig(AppConfig):
    name = "integrations.ticketing"
    label = "ticketing"
    verbose_name = "Ticketing sync"

    def ready(self) -> None:
        from incidents.registry import creation_hooks, transition_hooks
        from integrations.ticketing import models, sync
        from tenancy.audit import audit_register

        audit_register(
            models.TicketIntegration,
            exclude_fields=["credential_encrypted", "webhook_secret_hash"],
        )
        audit_register(models.TicketLink)
        audit_register(models.TicketCall, exclude_fields=["payload", "response"])
        audit_register(models.TicketComment)
        if sync.on_declared not in creation_hooks:
            creation_hooks.append(sync.on_declared)
        if sync.on_transition not in transition_hooks:
            transition_hooks.append(sync.on_transition)
