from django.apps import AppConfig


class ComplianceReviewsConfig(AppConfig):
    name = "compliance.reviews"
    label = "compliance_reviews"
    verbose_name = "Compliance reviews"

    def ready(self) -> None:
        from compliance.reviews import models
        from tenancy.audit import audit_register

        audit_register(models.ReviewPolicy)
        audit_register(models.Campaign)
        audit_register(models.ReviewLine)
