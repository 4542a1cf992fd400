"""Celery tasks of the compliance app: thin — a service called."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sweep_compliance_task() -> dict:
    """Beat entry point (every 30 s): regulatory deadline reminders and escalations. Claims rows
    with SKIP LOCKED, so two at once or a repeat after a crash neither lose nor double one."""
    from compliance import obligations
    from tenancy.audit import audit_context

    with audit_context(origin="task:sweep_compliance"):
        return obligations.sweep()


@shared_task(acks_late=True, ignore_result=True)
def verify_audit_chains_task() -> dict:
    """Nightly beat entry: verify every organisation's audit hash chain and record each
    outcome (on its AuditChain and in its audit trail). Returns {slug: ok}."""
    from compliance.audit_chain import verify_and_record
    from tenancy.audit import audit_context
    from tenancy.models import Organization

    outcomes = {}
    with audit_context(origin="task:verify_audit_chains"):
        for organization in Organization.objects.order_by("pk"):
            result = verify_and_record(organization, origin="task:verify_audit_chains")
            outcomes[organization.slug] = result.ok
    return outcomes


@shared_task(acks_late=True, ignore_result=True)
def verify_audit_chain_task(org_id: int, actor_id: int | None = None) -> bool:
    """ "Verify now" for a chain too long to verify inside the request."""
    from compliance.audit_chain import verify_and_record
    from tenancy.audit import audit_context
    from tenancy.models import Organization, User

    organization = Organization.objects.get(pk=org_id)
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    with audit_context(actor=actor, origin="task:verify_audit_chain"):
        return verify_and_record(organization, actor=actor, origin="task:verify_audit_chain").ok
