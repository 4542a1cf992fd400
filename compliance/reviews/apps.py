from django.apps import AppConfig


class ComplianceReviewsConfig(AppConfig):
    name = "compliance.reviews"
    label = "compliance_reviews"
    verbose_name = "Compliance reviews"
