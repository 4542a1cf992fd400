"""Celery tasks for retention: thin — the purge service called."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def purge_retention_task() -> dict:
    """Beat entry point (daily): purge every organisation that has a retention policy. Safe to
    repeat or to run twice at once: each organisation is purged under an advisory lock, and
    what is gone is not found again."""
    from compliance.retention.services import purge_all_organizations

    return purge_all_organizations(origin="task:purge_retention")
