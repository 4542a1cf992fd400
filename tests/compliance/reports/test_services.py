"""Generating reports: versions, content-hash stability, immutability in PostgreSQL, audit,
who may generate, and the retention hook."""

import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction
from django_scopes import scopes_disabled

from compliance.models import IncidentObligation, ObligationStatus, RecordType
from compliance.pdf import content_hash as sha256
from compliance.records import REGISTRY
from compliance.reports.models import ImmutableReport, Report
from compliance.reports.services import report_generate
from incidents.models import Incident
from tenancy.audit import retention_gate
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.compliance.reports.conftest import obligation, pdf_text

pytestmark = pytest.mark.django_db

DB_REFUSALS = (InternalError, ProgrammingError, IntegrityError)


def generate(acme, user, incident, key="gdpr-art33"):
    return report_generate(
        organization=acme, actor=user, incident=incident, obligation=obligation(acme, key)
    )


def stored(report) -> Report:
    with scopes_disabled():
        return Report.objects.get(pk=report.pk)


def test_same_data_same_hash_whoever_and_whenever_regenerates(acme, breach, compliance_user, admin):
    first = generate(acme, compliance_user, breach)
    second = generate(acme, admin, breach)
    assert second.version == first.version + 1
    assert second.content_hash == first.content_hash
    # The files differ (version, time and generator are printed), the content does not.
    assert second.pdf_sha256 != first.pdf_sha256
    assert first.pdf_sha256 == sha256(bytes(stored(first).pdf))


def test_changed_data_changes_the_hash_and_old_versions_keep_their_bytes(
    acme, breach, compliance_user
):
    first = generate(acme, compliance_user, breach)
    before = bytes(stored(first).pdf)
    with scopes_disabled():
        Incident.objects.filter(pk=breach.pk).update(impact_summary="1,200 customers exposed")
        breach = Incident.objects.get(pk=breach.pk)
    second = generate(acme, compliance_user, breach)
    assert second.version == 2
    assert second.content_hash != first.content_hash
    assert "Likely consequences of the breach" not in second.missing_fields
    assert "1,200 customers exposed" in pdf_text(second.pdf)
    assert bytes(stored(first).pdf) == before
    assert stored(first).content_hash == first.content_hash
    assert f"Version 2 · content hash sha256 {second.content_hash}" in " ".join(
        pdf_text(second.pdf).split()
    )


def test_versions_count_per_obligation_and_incident(acme, breach, compliance_user, responder):
    from tests.incidents.factories import declare

    other = declare(acme, responder, title="Other")
    assert generate(acme, compliance_user, breach).version == 1
    assert generate(acme, compliance_user, breach, "dora-initial").version == 1
    assert generate(acme, compliance_user, other).version == 1
    assert generate(acme, compliance_user, breach).version == 2


def test_the_database_refuses_to_update_or_delete_a_report(acme, breach, compliance_user):
    report = generate(acme, compliance_user, breach)
    for sql in (
        "UPDATE compliance_reports_report SET content_hash = 'x' WHERE id = %s",
        "UPDATE compliance_reports_report SET pdf = '\\x00' WHERE id = %s",
        "DELETE FROM compliance_reports_report WHERE id = %s",
    ):
        with (
            pytest.raises(DB_REFUSALS, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [report.pk])
    assert stored(report).content_hash == report.content_hash


def test_the_application_refuses_too(acme, breach, compliance_user):
    report = stored(generate(acme, compliance_user, breach))
    report.version = 9
    with pytest.raises(ImmutableReport):
        report.save()
    with pytest.raises(ImmutableReport):
        report.delete()
    assert stored(report).version == 1


def test_only_the_retention_gate_deletes_reports(acme, breach, compliance_user):
    report = generate(acme, compliance_user, breach)
    retained = REGISTRY[RecordType.REPORTS]
    with scopes_disabled():
        rows = retained.rows(acme.pk)
        assert list(rows.values_list("pk", flat=True)) == [report.pk]
        assert retained.date_field == "generated_at"
        assert rows.filter(**{f"{retained.incident_path}__in": [breach.pk]}).count() == 1
        with transaction.atomic():
            assert retained.purge(rows) == 1
        assert not Report.objects.filter(pk=report.pk).exists()
    # The gate closes again: the next delete in the same transaction is refused.
    again = generate(acme, compliance_user, breach)
    with transaction.atomic():
        with retention_gate():
            pass
        with pytest.raises(DB_REFUSALS), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM compliance_reports_report WHERE id = %s", [again.pk])


def test_each_generation_is_audited_and_drafts_the_obligation(acme, breach, compliance_user):
    report = generate(acme, compliance_user, breach)
    with scopes_disabled():
        entries = AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Report), object_id=report.pk
        )
        assert entries.count() == 1
        entry = entries.get()
        assert entry.action == AuditEntry.Action.CREATE
        assert "pdf" not in (entry.changes or {})
        assert entry.changes["content_hash"][1] == report.content_hash
        tracked = IncidentObligation.objects.get(
            incident=breach, obligation=obligation(acme, "gdpr-art33")
        )
    assert tracked.status == ObligationStatus.DRAFTED
    assert tracked.drafted_at is not None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_roles_without_export_compliance_cannot_generate(acme, breach, make_member, role):
    user = make_member(acme, role).user
    with pytest.raises(PermissionDenied):
        generate(acme, user, breach)
    with scopes_disabled():
        assert not Report.objects.exists()


def test_another_organisations_member_cannot_generate(acme, breach, stranger):
    with pytest.raises(PermissionDenied):
        generate(acme, stranger, breach)


def test_a_restricted_incident_needs_access(acme, breach, compliance_user, admin):
    with scopes_disabled():
        Incident.objects.filter(pk=breach.pk).update(is_restricted=True)
        breach = Incident.objects.get(pk=breach.pk)
    with pytest.raises(PermissionDenied):
        generate(acme, compliance_user, breach)
    assert generate(acme, admin, breach).version == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_generations_get_gap_free_distinct_versions(acme, breach, compliance_user):
    errors, done = [], []

    def run():
        try:
            done.append(generate(acme, compliance_user, breach).version)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(done) == [1, 2, 3]
    with scopes_disabled():
        assert sorted(Report.objects.values_list("version", flat=True)) == [1, 2, 3]
