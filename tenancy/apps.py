from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TenancyConfig(AppConfig):
    default = True
    name = "tenancy"
    verbose_name = "Organisations and people"

    def ready(self) -> None:
        from tenancy import audit  # noqa: F401  (registers the models with auditlog)
        from tenancy.scoping import close_unscoped_holes

        close_unscoped_holes()

        from django.db.models.signals import post_migrate

        from tenancy.rls import after_migrate

        post_migrate.connect(after_migrate, sender=self, dispatch_uid="vigil-row-level-security")


class VigilAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on a site that runs every view without a tenant scope."""

    default = False
    default_site = "tenancy.admin_site.UnscopedAdminSite"
