"""Celery tasks for incident channels: thin — ids in, scope entered by OrgTask, a service
called. Each is idempotent: the row is claimed with SKIP LOCKED and must still be due."""

from celery import shared_task

from incidents.channels import services
from incidents.channels.models import IncidentChannel, OutboundChannelMessage
from tenancy.tasks import OrgTask


@shared_task(base=OrgTask, bind=True, acks_late=True)
def create_channel_task(self, org_id: int, channel_id: int) -> str:
    """One attempt to create an incident's channel (Slack: create, invite, announce). A
    failure is recorded on the row with its next attempt; the sweeper queues that retry."""
    channel = IncidentChannel.objects.filter(pk=channel_id).first()
    if channel is None:
        return "missing"
    result = services.channel_attempt(channel=channel)
    return result.status if result is not None else "not due"


@shared_task(base=OrgTask, bind=True, acks_late=True)
def post_channel_message_task(self, org_id: int, message_id: int) -> str:
    """Post one outbound message to its external channel; a failure is recorded and retried."""
    message = OutboundChannelMessage.objects.filter(pk=message_id).first()
    if message is None:
        return "missing"
    result = services.outbound_attempt(message=message)
    return result.status if result is not None else "not due"


@shared_task(acks_late=True, ignore_result=True)
def sweep_channels_task() -> dict:
    """Beat entry point: queue channel creations and outbound messages that are due, across
    organisations (retries after their backoff, and messages the broker lost)."""
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_channels"):
        return services.sweep_channels()
