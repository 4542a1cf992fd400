"""Celery tasks for post-mortems: thin — a sweeper called."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_postmortems_task() -> dict:
    """Beat entry point (every minute): review reminders and overdue escalations, then the
    action items' reminders. Claims rows with SKIP LOCKED, so two at once or a repeat after a
    crash neither lose nor double a firing."""
    from postmortems import actions, scheduling
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_postmortems"):
        counts = scheduling.sweep()
        counts["action_items"] = actions.sweep_action_items()
    return counts
