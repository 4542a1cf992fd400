"""Audit entries: removed only by the purge, through the retention gate, as one unbroken run
of the oldest entries; the chain's anchor moves to the last one removed.

Audit rows cannot be backdated (the append-only trigger), so these tests move the purge's
clock instead: `now` a policy's length after a moment between the old and the young entries."""

import datetime as dt

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.models import AuditChain, RecordType
from compliance.retention import services
from tenancy.models import AuditEntry
from tenancy.scoping import org_scope
from tests.compliance.retention.factories import audit_entries, set_policy
from tests.factories import TeamFactory
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db

POLICY_DAYS = 30


def audit_receipts(run):
    return [r for r in run.receipts if r.record_type == RecordType.AUDIT_ENTRIES]


def chain(org):
    with scopes_disabled():
        return AuditChain.objects.get(organization=org)


@pytest.fixture
def old_and_young(no_minimums, admin):
    """Entries made before a moment (old once the clock is moved) and after it (young)."""
    set_policy(no_minimums, admin, RecordType.AUDIT_ENTRIES, POLICY_DAYS)
    for n in range(3):
        TeamFactory(organization=no_minimums, name=f"Old {n}")
    old = audit_entries(no_minimums)
    moment = timezone.now()
    for n in range(2):
        TeamFactory(organization=no_minimums, name=f"Young {n}")
    young = [e for e in audit_entries(no_minimums) if e.pk > old[-1].pk]
    assert old[-1].timestamp < moment <= young[0].timestamp
    return old, young, moment + dt.timedelta(days=POLICY_DAYS)


def test_old_entries_go_oldest_first_and_the_anchor_moves_to_the_last_removed(
    no_minimums, admin, old_and_young
):
    old, young, later = old_and_young

    run = services.retention_purge(organization=no_minimums, actor=admin, now=later)

    [receipt] = audit_receipts(run)
    assert receipt.count == len(old)
    remaining = {e.pk for e in audit_entries(no_minimums)}
    assert not remaining & {e.pk for e in old}
    assert {e.pk for e in young} <= remaining
    assert min(remaining) > old[-1].pk  # what is left starts after everything removed
    assert chain(no_minimums).anchor_entry_id == old[-1].pk
    assert chain(no_minimums).anchor_hash == old[-1].entry_hash
    assert (receipt.anchor_entry_id, receipt.anchor_hash) == (old[-1].pk, old[-1].entry_hash)


def test_the_next_purge_moves_the_anchor_on(no_minimums, admin, old_and_young):
    old, young, later = old_and_young
    services.retention_purge(organization=no_minimums, actor=admin, now=later)
    much_later = later + dt.timedelta(days=365)
    services.retention_purge(organization=no_minimums, actor=admin, now=much_later)
    assert chain(no_minimums).anchor_entry_id >= young[-1].pk
    assert not {e.pk for e in young} & {e.pk for e in audit_entries(no_minimums)}


def test_entries_about_a_held_incident_end_the_run(no_minimums, admin, responder):
    set_policy(no_minimums, admin, RecordType.AUDIT_ENTRIES, POLICY_DAYS)
    TeamFactory(organization=no_minimums, name="Before")
    incident = declare(no_minimums, responder, title="Under investigation")
    TeamFactory(organization=no_minimums, name="After")
    entries = audit_entries(no_minimums)
    later = timezone.now() + dt.timedelta(days=POLICY_DAYS + 1)
    with org_scope(no_minimums):
        services.legal_hold_create(
            organization=no_minimums,
            actor=admin,
            matter="Regulator inquiry",
            custodian=admin,
            incidents=[incident],
        )
    first_held = next(
        e for e in entries if e.content_type.model == "incident" and e.object_pk == str(incident.pk)
    )

    run = services.retention_purge(organization=no_minimums, actor=admin, now=later)

    remaining = [e.pk for e in audit_entries(no_minimums)]
    assert remaining[0] == first_held.pk
    assert all(e.pk in remaining for e in entries if e.pk >= first_held.pk)
    [receipt] = audit_receipts(run)
    assert receipt.count == len([e for e in entries if e.pk < first_held.pk])
    assert receipt.held_back >= 1


def test_an_organisation_wide_hold_keeps_every_entry(no_minimums, admin, old_and_young):
    old, young, later = old_and_young
    with org_scope(no_minimums):
        services.legal_hold_create(
            organization=no_minimums,
            actor=admin,
            matter="Everything",
            custodian=admin,
            whole_organization=True,
        )
    run = services.retention_purge(organization=no_minimums, actor=admin, now=later)
    assert audit_receipts(run) == []
    assert {e.pk for e in old + young} <= {e.pk for e in audit_entries(no_minimums)}


def test_outside_the_purge_audit_rows_still_cannot_be_deleted(no_minimums, admin, old_and_young):
    _, young, later = old_and_young
    services.retention_purge(organization=no_minimums, actor=admin, now=later)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        scopes_disabled(),
    ):
        AuditEntry.objects.filter(pk=young[0].pk).delete()
    assert young[0].pk in {e.pk for e in audit_entries(no_minimums)}


def test_a_dry_run_removes_no_entry_and_leaves_the_anchor(no_minimums, admin, old_and_young):
    old, young, later = old_and_young
    run = services.retention_purge(organization=no_minimums, actor=admin, dry_run=True, now=later)
    [receipt] = audit_receipts(run)
    assert receipt.dry_run
    assert receipt.count == len(old)
    assert receipt.anchor_entry_id is None
    assert {e.pk for e in old + young} <= {e.pk for e in audit_entries(no_minimums)}
    with scopes_disabled():
        assert not AuditChain.objects.filter(organization=no_minimums).exists()
