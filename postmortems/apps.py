from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self) -> None:
        from postmortems import models
        from tenancy.audit import audit_register

        audit_register(models.PostMortemPolicy)
        audit_register(models.PostMortemDecision)
        audit_register(models.Tag)
        audit_register(
            models.PostMortem,
            exclude_fields=["search_vector", "updated_at"],
            m2m_fields={"approvers", "tags"},
        )
        audit_register(models.PostMortemApproval)
        audit_register(models.WhyStep)
        audit_register(models.FishboneCause)
        audit_register(models.ActionItem, exclude_fields=["updated_at"])
