"""Celery tasks for incidents: thin — ids in, scope entered by OrgTask, a service called."""

from celery import shared_task
from django_scopes import scopes_disabled

from incidents import services
from incidents.models import Verification
from tenancy.models import Organization
from tenancy.tasks import OrgTask


@shared_task(base=OrgTask, bind=True, acks_late=True)
def run_health_check_task(self, org_id: int, verification_id: int) -> str:
    """Run an automated verification; a redelivered message finds it done and does nothing."""
    verification = Verification.objects.filter(pk=verification_id).first()
    if verification is None:
        return "missing"
    result = services.verification_run_health_check(verification=verification)
    return "done" if result is not None else "already done"


@shared_task(base=OrgTask, bind=True, acks_late=True)
def escalate_ownership_requests_task(self, org_id: int) -> int:
    """Escalate one organisation's unanswered ownership requests."""
    return services.ownership_escalate_due(organization=Organization.objects.get(pk=org_id))


@shared_task(acks_late=True)
def sweep_ownership_requests_task() -> int:
    """Beat entry point: fan out per organisation (the only cross-tenant read here)."""
    with scopes_disabled():
        org_ids = list(Organization.objects.values_list("pk", flat=True))
    for org_id in org_ids:
        escalate_ownership_requests_task.delay(org_id)
    return len(org_ids)


@shared_task(base=OrgTask, bind=True, acks_late=True)
def deliver_task(self, org_id: int, delivery_id: int) -> str:
    """Send one notification delivery. Idempotent: a redelivered message finds it claimed,
    sent or given up and does nothing; a failure is recorded for the sweeper to retry."""
    from incidents import notify
    from incidents.models import Delivery

    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return "missing"
    result = notify.deliver(delivery=delivery)
    return result.status if result is not None else "not claimable"


@shared_task(acks_late=True)
def sweep_deliveries_task() -> int:
    """Beat entry point: re-queue pending deliveries that are due, across organisations
    (retries after their backoff, and messages the broker lost)."""
    from incidents import notify

    return notify.sweep_deliveries()


@shared_task(acks_late=True, ignore_result=True)
def sweep_sla_task() -> dict:
    """Beat entry point (every second): claim what is due — SLA warnings, breaches, escalation
    steps — with SKIP LOCKED. Safe to run twice at once and after any crash: the rows are the
    record, so a lost or repeated message neither loses nor doubles a firing."""
    from incidents import sla
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_sla"):
        return sla.sweep_due()


@shared_task(acks_late=True, ignore_result=True)
def sweep_health_checks_task() -> int:
    """Beat entry point: health checks whose message never reached a worker."""
    return services.verification_sweep_health_checks()
