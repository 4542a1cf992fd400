from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    name = "incidents.statuspage"
    label = "statuspage"
    verbose_name = "Status page"
