"""The audit-trail export: one incident or a date range, CSV and PDF; scoped to the
organisation, following incident visibility, masked, formula-safe; export_compliance only."""

import csv
import datetime as dt
import io
import subprocess
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from compliance.audit_export import MAX_RANGE_DAYS, trail_rows
from compliance.exports import csv_safe
from incidents import services
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import TeamFactory
from tests.incidents.factories import CustomFieldDefinitionFactory, declare

pytestmark = pytest.mark.django_db

URL = reverse("compliance:audit_export", kwargs={"org_slug": "acme"})
TODAY = dt.datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()  # acme's zone


@pytest.fixture
def compliance_officer(acme, make_member):
    return make_member(acme, Role.COMPLIANCE, email="carla@acme.test")


@pytest.fixture
def history(acme, globex, responder, acme_admin, globex_admin):
    """ACME-1, open, with comments carrying personal data and spreadsheet formulas;
    ACME-2, restricted (only admins and grantees see it); a globex incident and team."""
    open_incident = declare(acme, responder, title="Checkout fails")
    with org_scope(acme):
        for text in (
            "Customer jane@example.com reports it from 203.0.113.9",
            '=HYPERLINK("http://evil.test","click")',
            "+1+2",
            "@SUM(A1:A9)",
        ):
            services.incident_comment(incident=open_incident, actor=responder, text=text)
    secret = declare(acme, acme_admin.user, title="Suspicious admin logins", is_restricted=True)
    with org_scope(acme):
        services.incident_comment(incident=secret, actor=acme_admin.user, text="CEO account")
    declare(globex, globex_admin.user, title="Grid overload")
    TeamFactory(organization=globex, name="Globex Grid")
    return open_incident, secret


def rows_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def pdf_text(response) -> str:
    assert response["Content-Type"] == "application/pdf"
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"],  # noqa: S607 — poppler-utils, installed on the box
        input=response.content,
        capture_output=True,
        check=True,
    ).stdout.decode()


# — one incident ——————————————————————————————————————————————————————————————————————


def test_an_incident_export_merges_its_audit_entries_and_its_timeline(
    history, compliance_officer, login
):
    response = login(compliance_officer.user).get(URL, {"incident": "acme-1", "format": "csv"})
    assert response.status_code == 200
    assert 'filename="acme-audit-ACME-1.csv"' in response["Content-Disposition"]
    header, *rows = rows_of(response)
    assert header == ["when", "source", "who", "action", "subject", "details", "from", "reference"]
    sources = {row[1] for row in rows}
    assert sources == {"audit trail", "timeline"}
    subjects = " ".join(row[4] for row in rows)
    assert "Incident: ACME-1" in subjects or "Checkout fails" in subjects
    assert "Timeline event" in subjects  # related rows' audit entries, not only the incident's
    assert any(row[1] == "timeline" and row[3] == "Comment" for row in rows)
    assert "Suspicious admin logins" not in response.content.decode()
    assert "CEO account" not in response.content.decode()
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)  # oldest first


def test_csv_cells_that_start_a_formula_are_neutralised(history, compliance_officer, login):
    response = login(compliance_officer.user).get(URL, {"incident": "ACME-1", "format": "csv"})
    details = [row[5] for row in rows_of(response)[1:]]
    assert '\'=HYPERLINK("http://evil.test","click")' in details
    assert "'+1+2" in details
    assert "'@SUM(A1:A9)" in details
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in details)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_safe(cell, expected):
    assert csv_safe(cell) == expected


def test_a_restricted_incident_is_unknown_to_a_reader_without_access(
    history, compliance_officer, login
):
    response = login(compliance_officer.user).get(URL, {"incident": "ACME-2", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"There is no incident ACME-2 here that you can see" in response.content


def test_an_admin_exports_the_restricted_incident(history, acme_admin, login):
    response = login(acme_admin.user).get(URL, {"incident": "ACME-2", "format": "csv"})
    assert "CEO account" in response.content.decode()


def test_a_granted_reader_exports_the_restricted_incident(
    history, acme, acme_admin, compliance_officer, login
):
    _, secret = history
    with org_scope(acme):
        services.incident_grant_access(
            incident=secret, actor=acme_admin.user, user=compliance_officer.user
        )
    response = login(compliance_officer.user).get(URL, {"incident": "ACME-2", "format": "csv"})
    assert "CEO account" in response.content.decode()


def test_another_organisations_incident_is_unknown(history, compliance_officer, login):
    response = login(compliance_officer.user).get(URL, {"incident": "GLX-1", "format": "csv"})
    assert b"There is no incident GLX-1 here" in response.content


# — a date range —————————————————————————————————————————————————————————————————————


def test_a_range_export_is_the_organisations_visible_history(history, compliance_officer, login):
    response = login(compliance_officer.user).get(
        URL, {"date_from": TODAY, "date_to": TODAY, "format": "csv"}
    )
    text = response.content.decode()
    assert 'filename="acme-audit-' in response["Content-Disposition"]
    assert "Checkout fails" in text
    assert "Suspicious admin logins" not in text  # restricted, not granted
    assert "CEO account" not in text
    assert "Globex" not in text  # another organisation
    assert "Grid overload" not in text


def test_an_admin_range_export_includes_restricted_incidents(history, acme_admin, login):
    response = login(acme_admin.user).get(
        URL, {"date_from": TODAY, "date_to": TODAY, "format": "csv"}
    )
    assert "Suspicious admin logins" in response.content.decode()


def test_a_range_in_the_past_is_empty_but_valid(history, compliance_officer, login):
    response = login(compliance_officer.user).get(
        URL, {"date_from": "2020-01-01", "date_to": "2020-01-31", "format": "csv"}
    )
    assert len(rows_of(response)) == 1  # the header only


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Enter an incident key, or both dates"),
        ({"date_from": TODAY}, "Enter an incident key, or both dates"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "The end date is before the start"),
        (
            {"date_from": "2025-01-01", "date_to": "2026-03-01"},
            f"A range covers at most {MAX_RANGE_DAYS} days; this one covers 425",
        ),
        ({"date_from": "yesterday", "date_to": TODAY}, "Enter a valid date."),
        ({"incident": "ACME-1", "date_from": TODAY, "date_to": TODAY}, "not both"),
        ({"incident": "ACME-99"}, "There is no incident ACME-99 here"),
        ({"incident": "'; DROP TABLE"}, "There is no incident"),
        ({"incident": "ACME-1", "format": "docx"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_explained_on_the_page(history, compliance_officer, login, params, message):
    params = {"format": "csv", **params}
    response = login(compliance_officer.user).get(URL, params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode().replace("&#x27;", "'")


def test_the_form_alone_is_a_page(compliance_officer, login):
    response = login(compliance_officer.user).get(URL)
    assert response.status_code == 200
    assert b"Export the audit trail" in response.content
    assert b'role="alert"' not in response.content


# — PDF ————————————————————————————————————————————————————————————————————————————————


def test_the_pdf_has_header_period_generator_rows_and_the_content_hash(
    history, acme, compliance_officer, login
):
    client = login(compliance_officer.user)
    pdf = client.get(URL, {"incident": "ACME-1", "format": "pdf"})
    assert pdf.status_code == 200
    assert 'filename="acme-audit-ACME-1.pdf"' in pdf["Content-Disposition"]
    text = pdf_text(pdf)
    flat = " ".join(text.split())
    assert "Acme Payments — Audit trail of ACME-1" in flat
    assert "Period ACME-1:" in flat
    assert "Generated by carla@acme.test" in flat
    assert "Comment" in flat
    assert "Checkout fails" in flat
    csv_response = client.get(URL, {"incident": "ACME-1", "format": "csv"})
    content_hash = csv_response["X-Content-SHA256"]
    assert pdf["X-Content-SHA256"] == content_hash
    assert f"Content SHA-256 {content_hash}" in flat  # the footer
    assert "Page 1 of" in flat


def test_the_content_hash_is_stable_and_changes_with_the_history(
    history, acme, responder, compliance_officer, login
):
    client = login(compliance_officer.user)
    params = {"incident": "ACME-1", "format": "csv"}
    first = client.get(URL, params)["X-Content-SHA256"]
    assert client.get(URL, params)["X-Content-SHA256"] == first
    with org_scope(acme):
        services.incident_comment(incident=history[0], actor=responder, text="more")
    assert client.get(URL, params)["X-Content-SHA256"] != first


def test_each_export_is_recorded_in_the_audit_trail_with_its_hash(
    history, acme, compliance_officer, login
):
    client = login(compliance_officer.user)
    response = client.get(URL, {"incident": "ACME-1", "format": "csv"})
    with scopes_disabled():
        record = AuditEntry.objects.filter(organization=acme).latest("pk")
    assert record.actor == compliance_officer.user
    assert record.action == AuditEntry.Action.ACCESS
    assert record.origin == "web"
    assert record.additional_data["export"]["content_hash"] == response["X-Content-SHA256"]
    assert record.additional_data["export"]["format"] == "csv"
    # and it shows in a later export of the range
    later = client.get(URL, {"date_from": TODAY, "date_to": TODAY, "format": "csv"})
    assert response["X-Content-SHA256"] in later.content.decode()


def test_a_refused_export_is_not_recorded(history, acme, compliance_officer, login):
    with scopes_disabled():
        before = AuditEntry.objects.filter(organization=acme).count()
    login(compliance_officer.user).get(URL, {"incident": "ACME-99", "format": "csv"})
    with scopes_disabled():
        assert AuditEntry.objects.filter(organization=acme).count() == before


def test_too_many_rows_for_a_pdf_are_refused_with_advice(
    history, compliance_officer, login, monkeypatch
):
    from compliance import audit_export

    monkeypatch.setattr(audit_export, "MAX_PDF_ROWS", 3)
    response = login(compliance_officer.user).get(URL, {"incident": "ACME-1", "format": "pdf"})
    assert response["Content-Type"].startswith("text/html")
    assert b"too many for a PDF" in response.content


# — masking ——————————————————————————————————————————————————————————————————————————————


def test_readers_without_view_sensitive_get_personal_data_masked(
    history, acme, responder, compliance_officer, make_member
):
    """No default role may export without also seeing sensitive data, so the rule is checked
    on the rows themselves for a responder's membership."""
    CustomFieldDefinitionFactory(organization=acme, key="customer", is_sensitive=True)
    with org_scope(acme):
        services.incident_update(
            incident=history[0], actor=responder, changes={"custom_fields": {"customer": "x"}}
        )
        reader = make_member(acme, Role.RESPONDER)
        masked = trail_rows(
            organization=acme,
            user=reader.user,
            membership=reader,
            incident=history[0],
        )
        revealed = trail_rows(
            organization=acme,
            user=compliance_officer.user,
            membership=compliance_officer,
            incident=history[0],
        )
    masked_text = " ".join(" ".join(row.cells(dt.UTC)) for row in masked)
    revealed_text = " ".join(" ".join(row.cells(dt.UTC)) for row in revealed)
    assert "jane@example.com" not in masked_text
    assert "[e-mail hidden]" in masked_text
    assert "203.0.113.9" not in masked_text
    assert "custom_fields: [hidden]" in masked_text
    assert "jane@example.com" in revealed_text
    assert "203.0.113.9" in revealed_text


# — who may export ———————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_roles_without_export_compliance_get_404(history, acme, make_member, login, role):
    client = login(make_member(acme, role).user)
    assert client.get(URL).status_code == 404
    assert client.get(URL, {"incident": "ACME-1", "format": "csv"}).status_code == 404


def test_another_organisations_admin_gets_404(history, globex_admin, login):
    response = login(globex_admin.user).get(URL, {"incident": "ACME-1", "format": "csv"})
    assert response.status_code == 404


def test_the_audit_page_offers_the_export_form(acme, compliance_officer, login):
    response = login(compliance_officer.user).get(
        reverse("compliance:audit_list", kwargs={"org_slug": "acme"})
    )
    assert b"Export the audit trail" in response.content
    assert URL.encode() in response.content


def test_times_are_in_the_organisations_zone(history, compliance_officer, login):
    response = login(compliance_officer.user).get(URL, {"incident": "ACME-1", "format": "csv"})
    first = rows_of(response)[1][0]
    assert first.endswith(("+01:00", "+02:00"))  # Europe/Berlin


def test_the_audit_selector_given_the_reader_leaves_out_hidden_incidents(
    history, acme, compliance_officer, acme_admin
):
    """The rule the export follows, offered to the audit page (its view passes no reader yet)."""
    from compliance.selectors import audit_entry_list

    def reprs(**reader):
        with org_scope(acme):
            return " ".join(e.object_repr for e in audit_entry_list(organization=acme, **reader))

    officer = reprs(user=compliance_officer.user, membership=compliance_officer)
    assert "Checkout fails" in officer
    assert "Suspicious admin logins" not in officer
    assert "CEO account" not in officer  # the restricted incident's timeline rows too
    assert "Suspicious admin logins" in reprs(user=acme_admin.user, membership=acme_admin)
    assert "Suspicious admin logins" in reprs()  # no reader: everything, as the page does today
