from django.apps import AppConfig
from django.db.models.signals import post_save


class TaxonomyConfig(AppConfig):
    name = "taxonomy"
    verbose_name = "Taxonomy"

    def ready(self) -> None:
        from taxonomy import models
        from tenancy.audit import audit_register
        from tenancy.models import Organization

        audit_register(models.OrgSettings)
        audit_register(models.Category)
        audit_register(models.Service, m2m_fields={"contributing_teams"})
        audit_register(models.SeverityLevel)
        audit_register(models.EscalationPath)
        audit_register(models.EscalationStep)
        audit_register(models.ClassificationRule)
        audit_register(models.CustomFieldDefinition)
        from taxonomy.demo import seed_taxonomy
        from tenancy.demo import register_seeder

        register_seeder("taxonomy", 10, seed_taxonomy)
        post_save.connect(
            _seed_new_organization, sender=Organization, dispatch_uid="taxonomy-defaults"
        )


def _seed_new_organization(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from taxonomy.defaults import seed_taxonomy_defaults
        from tenancy.scoping import org_scope

        with org_scope(instance):  # the new organisation's rows, also for row-level security
            seed_taxonomy_defaults(instance)
