"""Celery tasks for ticketing sync: thin."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def send_ticket_call_task(org_id: int, call_id: int) -> str:
    """Perform one tracker call; a redelivered message finds it claimed or done."""
    from integrations.ticketing import sync
    from integrations.ticketing.models import TicketCall
    from tenancy.scoping import org_scope

    with org_scope(org_id):
        call = TicketCall.objects.filter(pk=call_id).first()
        if call is None:
            return "missing"
        result = sync.send(call=call)
        return result.status if result else "not claimable"


@shared_task(acks_late=True, ignore_result=True)
def sweep_ticket_calls_task() -> int:
    """Beat entry point: tracker calls due for a (re)try."""
    from integrations.ticketing import sync
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_ticket_calls"):
        return sync.sweep()
