"""Celery tasks of access reviews: thin — services called."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_access_reviews_task() -> dict:
    """Beat entry point (hourly): start the campaigns that are due (each start re-checks under
    its organisation's lock, so two runs at once start one), then fire the reminders and
    escalations that are due (claimed with SKIP LOCKED: each exactly once)."""
    from compliance.reviews import scheduling, services
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_access_reviews"):
        started = services.start_due_campaigns()
        counts = scheduling.sweep()
    return {"started": started, **counts}
