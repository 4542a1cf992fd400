"""Celery tasks for compliance: thin — the sweeper called."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_compliance_task() -> dict:
    """Beat entry point (every 30 s): regulatory deadline reminders and escalations. Claims rows
    with SKIP LOCKED, so two at once or a repeat after a crash neither lose nor double one."""
    from compliance import obligations
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_compliance"):
        return obligations.sweep()
