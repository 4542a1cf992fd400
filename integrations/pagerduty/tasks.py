"""Celery tasks for PagerDuty paging: thin (registered through integrations.tasks)."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def send_pagerduty_event_task(org_id: int, event_id: int) -> str:
    """Send one Events API v2 event; a redelivered message finds it claimed or done."""
    from integrations.pagerduty import events
    from integrations.pagerduty.models import PagerDutyEvent
    from tenancy.audit import audit_context
    from tenancy.scoping import org_scope

    with org_scope(org_id), audit_context(origin="task:send_pagerduty_event"):
        event = PagerDutyEvent.objects.filter(pk=event_id).first()
        if event is None:
            return "missing"
        result = events.send(event=event)
        return result.status if result else "not claimable"


@shared_task(acks_late=True, ignore_result=True)
def sweep_pagerduty_events_task() -> int:
    """Send due and retried PagerDuty events (also swept by sweep_alerts_task)."""
    from integrations.pagerduty import events
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_pagerduty_events"):
        return events.sweep()
