"""Celery tasks of reporting: thin — services called."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_executive_reports_task() -> int:
    """Beat entry point (every 5 minutes): run the executive report schedules that are due,
    each exactly once (claimed with SKIP LOCKED, advanced in the same transaction)."""
    from reporting import services
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_executive_reports"):
        return services.sweep_schedules()


@shared_task(acks_late=True, ignore_result=True)
def refresh_rollups_task() -> int:
    """Beat entry point (every minute): rebuild the daily roll-ups of days that changed or
    were never built, each organisation under its own advisory lock (a second run skips it)."""
    from reporting import rollups

    return rollups.refresh_all()
