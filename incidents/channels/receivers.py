"""What incident channels do when incidents change. Connected in IncidentChannelsConfig.ready().

The incident signals are sent after commit, from the request (or task) that declared or
changed the incident. Nothing here may break that caller: every failure is logged, and the
rows it leaves (a failed channel, a pending message) are retried by the sweeper."""

import logging

from incidents.channels import services
from incidents.models import Incident
from tenancy.scoping import org_scope

logger = logging.getLogger(__name__)


def _open(organization_id: int, incident_id: int, why: str) -> None:
    try:
        with org_scope(organization_id):
            incident = Incident.objects.filter(pk=incident_id).first()
        if incident is not None:
            services.channels_open(incident=incident)
    except Exception:  # never into the caller: the incident is declared whatever happens here
        logger.exception("opening channels for incident %s (%s) failed", incident_id, why)


def on_incident_created(sender, *, organization_id, incident_id, **kwargs) -> None:
    _open(organization_id, incident_id, "declared")


def on_incident_changed(sender, *, organization_id, incident_id, fields=(), **kwargs) -> None:
    if "severity" in (fields or ()):
        _open(organization_id, incident_id, "severity changed")


def on_incident_broadcast(
    sender, *, organization_id, incident_id, text="", kind="broadcast", **kwargs
) -> None:
    try:
        services.broadcast(
            organization_id=organization_id, incident_id=incident_id, text=text, kind=kind
        )
    except Exception:  # never into the caller: its status update is saved already
        logger.exception("broadcasting to the channels of incident %s failed", incident_id)
