"""Audit trail wiring: which models are logged, who the actor is outside a request, and the
one gate through which the retention routine may remove audit rows."""

import contextlib

from auditlog.context import set_extra_data
from auditlog.registry import auditlog
from django.db import connection, transaction

from tenancy.models import Invitation, Membership, Organization, Team, User


def audit_register(model, *, exclude_fields=(), **options) -> None:
    """Register a Vigil model with the audit trail. The organisation is recorded on every
    entry, so it is not repeated as a changed field."""
    excluded = [*exclude_fields, "organization"]
    auditlog.register(model, exclude_fields=excluded, **options)


audit_register(Organization)
audit_register(Membership)
audit_register(Team, m2m_fields={"members"})
audit_register(Invitation, exclude_fields=["token_hash"])
audit_register(User, exclude_fields=["password", "last_login"])


@contextlib.contextmanager
def audit_context(*, actor=None, origin: str):
    """Attribute every audit entry written inside to `actor` and `origin`
    (`task:<name>`, `command:<name>`). Requests get theirs from AuditContextMiddleware."""
    with set_extra_data({"actor": actor, "origin": origin[:120]}):
        yield


@contextlib.contextmanager
def retention_gate():
    """The only way past the append-only trigger on the audit table: a transaction-local
    setting. Only the retention routine (compliance) may use it, and it must audit itself."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('vigil.audit_retention', 'on', true)")
        try:
            yield
        finally:
            # Close it again at once, even inside an outer transaction that goes on.
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('vigil.audit_retention', 'off', true)")


# The audit hash chain's advisory-lock class: the BEFORE INSERT trigger of tenancy migration 0004
# takes (LOCK_CLASS, organisation id) until the transaction ends (compliance/audit_chain.py).
LOCK_CLASS = 1447642945


def lock_chain(organization_id: int | None) -> None:
    """Hold the organisation's chain lock until the current transaction ends (the purge takes
    it before deleting old entries and moving the anchor)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (%s %% 2147483647)::int)",
            [LOCK_CLASS, organization_id or 0],
        )


def lock_chains(organization_ids) -> None:
    """Take the chain locks of several organisations in one fixed (ascending) order. A
    transaction that writes audit entries for more than one organisation (a cross-tenant
    sweeper's chunk) calls it right after claiming its rows: otherwise two such transactions
    that reach the same organisations in opposite orders deadlock on the trigger's locks, and
    PostgreSQL aborts one of them."""
    for organization_id in sorted({o or 0 for o in organization_ids}):
        lock_chain(organization_id)
