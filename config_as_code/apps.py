from django.apps import AppConfig


class ConfigAsCodeConfig(AppConfig):
    """export_config / import_config: an organisation's setup as a YAML file."""

    name = "config_as_code"
    verbose_name = "Configuration as code"
