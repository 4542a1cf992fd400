"""Declaring incidents the way a request does: the transaction commits, then the signals run."""

from django_scopes import scopes_disabled

from incidents import services as incident_services
from incidents.channels.models import IncidentChannel, OutboundChannelMessage, WarRoomMessage
from tenancy.scoping import org_scope
from tests.incidents.factories import declare, severity


def declared(capture, org, actor, level: str = "SEV-3", **kwargs):
    """Declare an incident and run what its commit triggers (the channel receivers)."""
    with capture(execute=True):
        return declare(org, actor, severity=severity(org, level), **kwargs)


def raise_severity(capture, incident, actor, level: str):
    with capture(execute=True), org_scope(incident.organization_id):
        return incident_services.incident_change_severity(
            incident=incident,
            actor=actor,
            severity=severity(incident.organization, level),
            reason="Customers affected after all",
        )


def channels(incident) -> dict[str, IncidentChannel]:
    with scopes_disabled():
        return {c.provider: c for c in IncidentChannel.objects.filter(incident=incident)}


def war_room_texts(incident) -> list[str]:
    with scopes_disabled():
        return list(
            WarRoomMessage.objects.filter(incident=incident)
            .order_by("pk")
            .values_list("text", flat=True)
        )


def outbound(incident) -> list[OutboundChannelMessage]:
    with scopes_disabled():
        return list(
            OutboundChannelMessage.objects.filter(channel__incident=incident).order_by("pk")
        )
