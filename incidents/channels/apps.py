from django.apps import AppConfig


class IncidentChannelsConfig(AppConfig):
    name = "incidents.channels"
    label = "incident_channels"
    verbose_name = "Incident channels"
