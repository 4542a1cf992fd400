from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        from incidents import notify
        from reporting import models, services
        from tenancy.audit import audit_register

        audit_register(models.ReportSchedule, m2m_fields={"members"})
        # Who generated which period and its hash are audited; the PDF bytes are not repeated.
        audit_register(models.ExecutiveReport, exclude_fields=["pdf"])
        audit_register(models.ExposureFigure)
        audit_register(models.ExposureFeedToken, exclude_fields=["token_hash", "last_used_at"])
        notify.register_attachment_loader(services.ATTACHMENT_KIND, services.load_attachment)
