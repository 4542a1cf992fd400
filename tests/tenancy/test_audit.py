"""The audit trail: actor, origin and organisation recorded; append-only in PostgreSQL."""

import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import scopes_disabled

from config.db.base import NOTHING, unscoped
from tenancy.audit import audit_context, retention_gate
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def latest_entry():
    with scopes_disabled():
        return AuditEntry.objects.latest("pk")


def test_a_change_outside_a_request_records_its_origin_and_organisation(acme, make_member):
    actor = make_member(acme, Role.ADMIN).user
    with audit_context(actor=actor, origin="command:test"):
        team = TeamFactory(organization=acme, name="Platform")
    entry = latest_entry()
    assert entry.object_pk == str(team.pk)
    assert entry.action == AuditEntry.Action.CREATE
    assert entry.actor == actor
    assert entry.origin == "command:test"
    assert entry.organization_id == acme.pk


@pytest.mark.unscoped_sql
def test_an_update_to_an_audit_row_fails_at_the_database(acme):
    TeamFactory(organization=acme)
    entry = latest_entry()
    # Row-level security already hides the row from a transaction without a tenant scope…
    with unscoped(NOTHING), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tenancy_auditentry SET object_repr = 'forged' WHERE id = %s", [entry.pk]
        )
        assert cursor.rowcount == 0
    # …and with every organisation visible, the trigger refuses.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        scopes_disabled(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE tenancy_auditentry SET object_repr = 'forged' WHERE id = %s", [entry.pk]
        )
    assert latest_entry().object_repr == entry.object_repr


def test_a_delete_of_an_audit_row_fails_at_the_database(acme):
    TeamFactory(organization=acme)
    entry = latest_entry()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        scopes_disabled(),
    ):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with scopes_disabled():
        assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_retention_gate_is_the_only_way_to_remove_rows(acme):
    TeamFactory(organization=acme)
    entry = latest_entry()
    with retention_gate(), scopes_disabled():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with scopes_disabled():
        assert not AuditEntry.objects.filter(pk=entry.pk).exists()
    # and the gate closes with its transaction
    TeamFactory(organization=acme)
    with pytest.raises(DatabaseError), transaction.atomic(), scopes_disabled():
        AuditEntry.objects.all().delete()


def test_audit_reads_without_a_scope_raise(acme):
    from django_scopes import ScopeError

    TeamFactory(organization=acme)
    with pytest.raises(ScopeError):
        AuditEntry.objects.count()


def test_user_passwords_never_reach_the_audit_trail(acme, make_member):
    member = make_member(acme)
    member.user.set_password("a-new-secret-123")
    member.user.save()
    with scopes_disabled():
        for entry in AuditEntry.objects.filter(object_pk=str(member.user.pk)):
            assert "password" not in (entry.changes or {})
            assert "a-new-secret" not in str(entry.changes)
