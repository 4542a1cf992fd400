"""Celery tasks for integrations: thin."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_alerts_task() -> dict:
    """Beat entry point: groups held back by a gate, payloads whose processing failed."""
    from integrations import ingest, outbound
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_alerts"):
        counts = ingest.sweep_pending()
        counts["heartbeats"] = ingest.check_heartbeats()
        counts["outbound"] = outbound.sweep()
        from integrations.pagerduty import events as pagerduty_events

        counts["pagerduty"] = pagerduty_events.sweep()
        return counts


@shared_task(bind=True, acks_late=True, ignore_result=True)
def send_outbound_task(self, org_id: int, call_id: int) -> str:
    """Perform one outbound call; a redelivered message finds it claimed or done."""
    from integrations import outbound
    from integrations.models import OutboundCall
    from tenancy.scoping import org_scope

    with org_scope(org_id):
        call = OutboundCall.objects.filter(pk=call_id).first()
        if call is None:
            return "missing"
        result = outbound.send(call=call)
        return result.status if result else "not claimable"


# PagerDuty paging's tasks, registered with the worker through this module.
from integrations.pagerduty.tasks import (  # noqa: E402, F401
    send_pagerduty_event_task,
    sweep_pagerduty_events_task,
)
