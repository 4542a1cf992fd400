"""Celery tasks for integrations: thin."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_alerts_task() -> dict:
    """Beat entry point: groups held back by a gate, payloads whose processing failed."""
    from integrations import ingest
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_alerts"):
        return ingest.sweep_pending()
