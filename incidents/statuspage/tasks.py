"""Celery tasks of the status page: ids in, scope entered by OrgTask, a service called."""

from celery import shared_task

from tenancy.models import Organization
from tenancy.tasks import OrgTask


@shared_task(base=OrgTask, bind=True, acks_late=True)
def notify_subscribers_task(self, org_id: int, message_id: int) -> int:
    """E-mail a published message to the confirmed subscribers. Idempotent: per-subscriber
    delivery rows are keyed, so a redelivered message records and sends nothing twice."""
    from incidents.statuspage import services

    return services.message_notify_subscribers(
        organization=Organization.objects.get(pk=org_id), message_id=message_id
    )
