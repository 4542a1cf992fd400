from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        from api import schema  # noqa: F401 — registers the bearer scheme
        from api.models import ApiToken
        from tenancy.audit import audit_register

        audit_register(ApiToken, exclude_fields=["secret_hash", "last_used_at"])
