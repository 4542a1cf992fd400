from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    name = "incidents.statuspage"
    label = "statuspage"
    verbose_name = "Status page"

    def ready(self) -> None:
        from incidents.statuspage import demo, models
        from tenancy.audit import audit_register
        from tenancy.demo import register_seeder

        audit_register(models.StatusPageSettings)
        audit_register(models.Spokesperson)
        audit_register(models.Component)
        audit_register(models.MessageTemplate)
        audit_register(models.ExternalMessage)
        audit_register(models.MessageComponent)
        # Subscriber addresses are personal data and audit entries are append-only: keep the
        # address (and the link secret) out, so an unsubscribe really forgets it.
        audit_register(models.Subscriber, exclude_fields=["email", "nonce"])
        register_seeder("statuspage", 30, demo.seed_status_page)
