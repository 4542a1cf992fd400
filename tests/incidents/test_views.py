"""Incident pages: list, CSV, search, bulk, declare, detail, transitions — scoped, permission-
checked and honest about what is missing."""

import csv
import io

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents import services
from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from taxonomy.models import CustomFieldDefinition, Service, SeverityLevel
from tenancy.roles import Role
from tenancy.scoping import org_scope

pytestmark = pytest.mark.django_db


def url(view, org="acme", **kwargs):
    return reverse(f"incidents:{view}", kwargs={"org_slug": org, **kwargs})


@pytest.fixture
def responder(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="responder@acme.test").user


@pytest.fixture
def viewer(acme, make_member):
    return make_member(acme, Role.VIEWER, email="viewer@acme.test").user


def sev(org, level):
    with scopes_disabled():
        return SeverityLevel.objects.get(organization=org, level=level)


def declare(org, actor, title="Checkout errors", level=3, **kwargs):
    with org_scope(org):
        return services.incident_create(
            organization=org, actor=actor, title=title, severity=sev(org, level), **kwargs
        )


def fresh(incident):
    with scopes_disabled():
        return Incident.objects.get(pk=incident.pk)


# — list ——————————————————————————————————————————————————————————————————————————————


def test_list_shows_the_orgs_incidents_and_not_another_orgs(
    acme, globex, responder, globex_admin, login
):
    declare(acme, responder, "Acme checkout down")
    declare(globex, globex_admin.user, "Globex grid down")
    response = login(responder).get(url("incident_list"))
    assert response.status_code == 200
    assert b"Acme checkout down" in response.content
    assert b"ACME-1" in response.content
    assert b"Globex grid down" not in response.content


def test_list_empty_state_offers_to_declare(acme, responder, login):
    response = login(responder).get(url("incident_list"))
    assert b"No incidents yet" in response.content
    assert url("incident_create").encode() in response.content


def test_list_filters_by_status_severity_and_text(acme, responder, login):
    declare(acme, responder, "Database replica lag", level=3)
    declare(acme, responder, "Checkout errors", level=4)
    client = login(responder)
    by_text = client.get(url("incident_list"), {"q": "replica"})
    assert b"Database replica lag" in by_text.content
    assert b"Checkout errors" not in by_text.content
    by_severity = client.get(url("incident_list"), {"severity": sev(acme, 4).pk})
    assert b"Checkout errors" in by_severity.content
    assert b"Database replica lag" not in by_severity.content
    closed = client.get(url("incident_list"), {"status": "closed"})
    assert b"No incidents match these filters" in closed.content
    open_ones = client.get(url("incident_list"), {"status": "open"})
    assert b"Database replica lag" in open_ones.content
    assert b"Checkout errors" in open_ones.content
    reported = client.get(url("incident_list"), {"status": "reported"})
    assert b"Checkout errors" in reported.content
    bogus = client.get(url("incident_list"), {"status": "exploded"})
    assert b"Select a valid choice" in bogus.content


def test_list_filters_by_custom_field(acme, responder, login):
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme,
            key="impact",
            label="Impact",
            field_type="choice",
            choices=["none", "outage"],
        )
    declare(acme, responder, "With outage", custom_fields={"impact": "outage"})
    declare(acme, responder, "Without impact", custom_fields={"impact": "none"})
    response = login(responder).get(url("incident_list"), {"cf_impact": "outage"})
    assert b"With outage" in response.content
    assert b"Without impact" not in response.content


def test_list_issues_a_constant_number_of_queries(
    acme, responder, login, django_assert_max_num_queries
):
    client = login(responder)
    for n in range(3):
        declare(acme, responder, f"Incident {n}")
    client.get(url("incident_list"))  # warm caches (content types, sessions)
    with django_assert_max_num_queries(18) as few:
        client.get(url("incident_list"))
    for n in range(3, 40):
        declare(acme, responder, f"Incident {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url("incident_list"))
    assert b"Incident 39" in response.content


def test_a_bad_filter_value_is_explained(acme, responder, login):
    response = login(responder).get(url("incident_list"), {"since": "last tuesday"})
    assert response.status_code == 200
    assert b"Enter a valid date." in response.content


# — restricted incidents ——————————————————————————————————————————————————————————————


@pytest.fixture
def secret(acme, make_member):
    admin = make_member(acme, Role.ADMIN, email="boss@acme.test").user
    return declare(acme, admin, "Breach of the vault", level=1, is_restricted=True)


def test_restricted_incident_is_invisible_everywhere_to_others(secret, responder, login):
    client = login(responder)
    assert b"Breach of the vault" not in client.get(url("incident_list")).content
    assert client.get(url("incident_detail", key=secret.key)).status_code == 404
    assert b"Breach of the vault" not in client.get(url("incident_list"), {"q": "vault"}).content
    jump = client.get(url("incident_search"), {"q": secret.key})
    assert jump.status_code == 302
    assert secret.key not in jump["Location"].split("?")[0]
    export = client.get(url("incident_export"))
    assert b"Breach of the vault" not in export.content
    assert client.get(url("incident_timeline", key=secret.key)).status_code == 404


def test_restricted_incident_is_visible_once_granted(secret, responder, login, acme):
    with scopes_disabled():
        admin = secret.reporter
    with org_scope(acme):
        services.incident_grant_access(incident=secret, actor=admin, user=responder)
    client = login(responder)
    assert b"Breach of the vault" in client.get(url("incident_list")).content
    assert client.get(url("incident_detail", key=secret.key)).status_code == 200
    assert b"Breach of the vault" in client.get(url("incident_export")).content


def test_org_admins_see_restricted_incidents(secret, acme, make_member, login):
    other_admin = make_member(acme, Role.ADMIN).user
    assert login(other_admin).get(url("incident_detail", key=secret.key)).status_code == 200


# — CSV ————————————————————————————————————————————————————————————————————————————————


def test_csv_export_follows_the_filters_and_masks_sensitive_fields(
    acme, responder, login, make_member
):
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme,
            key="contact",
            label="Contact",
            field_type="text",
            is_sensitive=True,
        )
    evil = declare(
        acme, responder, "=HYPERLINK(evil)", custom_fields={"contact": "alice@example.test"}
    )
    declare(acme, responder, "Other one")
    response = login(responder).get(url("incident_export"), {"q": "HYPERLINK"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "key"
    assert len(rows) == 2
    assert rows[1][1] == "'=HYPERLINK(evil)", "formula injection is neutralised"
    assert rows[1][-1] == "[hidden]"
    # Compliance staff see it masked too until they reveal the incident (audited).
    compliance = make_member(acme, Role.COMPLIANCE).user
    client = login(compliance)
    cells = [
        c
        for r in csv.reader(io.StringIO(client.get(url("incident_export")).content.decode()))
        for c in r
    ]
    assert "alice@example.test" not in cells
    client.post(reverse("compliance:incident_unmask", kwargs={"org_slug": "acme", "key": evil.key}))
    rows = list(csv.reader(io.StringIO(client.get(url("incident_export")).content.decode())))
    assert "alice@example.test" in [cell for row in rows for cell in row]


# — declare ————————————————————————————————————————————————————————————————————————————


def test_declaring_through_the_assessment_proposes_and_records_the_severity(acme, responder, login):
    response = login(responder).post(
        url("incident_create"),
        {
            "title": "Checkout errors",
            "customer_visible": "on",
            "users_affected_pct": "8",
            "downtime_minutes": "20",
            "kind": "real",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        incident = Incident.objects.get(organization=acme)
        assert incident.severity.name == "SEV-2"
        messages = list(
            TimelineEvent.objects.filter(incident=incident).values_list("message", flat=True)
        )
    assert any("customer-visible, 8 % of users, ≥ 15 min downtime" in m for m in messages)
    assert response["Location"] == url("incident_detail", key="ACME-1")


def test_overriding_the_proposal_without_a_reason_is_refused_and_input_kept(acme, responder, login):
    response = login(responder).post(
        url("incident_create"),
        {
            "title": "Checkout errors",
            "customer_visible": "on",
            "users_affected_pct": "8",
            "downtime_minutes": "20",
            "kind": "real",
            "severity": sev(acme, 4).pk,
        },
    )
    assert response.status_code == 200
    assert b"The assessment proposes SEV-2" in response.content
    assert b'value="Checkout errors"' in response.content
    with scopes_disabled():
        assert not Incident.objects.filter(organization=acme).exists()


def test_declare_form_rejects_bad_input_and_saves_nothing(acme, responder, globex, login):
    with scopes_disabled():
        foreign_service = Service.objects.create(organization=globex, name="Grid")
    response = login(responder).post(
        url("incident_create"),
        {
            "title": "",
            "users_affected_pct": "150",
            "kind": "real",
            "primary_service": foreign_service.pk,
        },
    )
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert b"Ensure this value is less than or equal to 100." in response.content
    assert b"Select a valid choice" in response.content
    with scopes_disabled():
        assert not Incident.objects.exists()


def test_viewers_may_not_declare(acme, viewer, login):
    client = login(viewer)
    assert client.get(url("incident_create")).status_code == 403
    assert client.post(url("incident_create"), {"title": "x", "kind": "real"}).status_code == 403
    with scopes_disabled():
        assert not Incident.objects.exists()


def test_the_assist_fragment_shows_the_proposal_and_similar_open_incidents(acme, responder, login):
    declare(acme, responder, "Checkout payment errors")
    response = login(responder).get(
        url("incident_create_assist"),
        {"title": "Errors in checkout", "customer_visible": "on", "users_affected_pct": "30"},
    )
    assert response.status_code == 200
    assert b"SEV-1" in response.content
    assert b"ACME-1" in response.content


# — detail and transitions —————————————————————————————————————————————————————————————


def test_detail_names_what_is_missing_for_each_blocked_transition(acme, responder, login):
    incident = declare(acme, responder, level=2)
    response = login(responder).get(url("incident_detail", key=incident.key))
    assert response.status_code == 200
    assert b"Missing: an incident commander (SEV-1 and SEV-2)" in response.content
    assert b"ACME-1 \xc2\xb7 Checkout errors" in response.content


def test_a_blocked_transition_posted_anyway_is_refused_with_the_missing_items(
    acme, responder, login
):
    incident = declare(acme, responder, level=2)
    response = login(responder).post(
        url("incident_transition", key=incident.key, name="start_investigation"),
        {"version": incident.version},
        follow=True,
    )
    assert b"Missing: an incident commander" in response.content
    assert fresh(incident).status == Status.REPORTED


def test_a_transition_from_a_stale_page_says_changed_meanwhile(acme, responder, login):
    incident = declare(acme, responder, level=3)
    client = login(responder)
    first = client.post(
        url("incident_transition", key=incident.key, name="start_investigation"),
        {"version": incident.version},
    )
    assert first.status_code == 302
    stale = client.post(
        url("incident_transition", key=incident.key, name="dismiss"),
        {"version": incident.version, "note": "false alarm"},
        follow=True,
    )
    assert b"changed by someone else meanwhile" in stale.content
    assert fresh(incident).status == Status.INVESTIGATING


def test_an_unknown_transition_name_is_refused(acme, responder, login):
    incident = declare(acme, responder, level=3)
    response = login(responder).post(
        url("incident_transition", key=incident.key, name="delete"), follow=True
    )
    assert b"is not a transition" in response.content
    assert fresh(incident).status == Status.REPORTED


def test_viewers_cannot_transition_or_comment(acme, responder, viewer, login):
    incident = declare(acme, responder, level=3)
    client = login(viewer)
    page = client.get(url("incident_detail", key=incident.key))
    assert b"Start investigation" not in page.content
    denied = client.post(url("incident_transition", key=incident.key, name="start_investigation"))
    assert denied.status_code == 403
    assert client.post(url("incident_comment", key=incident.key), {"text": "hi"}).status_code == 403
    assert fresh(incident).status == Status.REPORTED


def test_comment_appends_to_the_timeline_and_htmx_gets_the_fragment(acme, responder, login):
    incident = declare(acme, responder)
    response = login(responder).post(
        url("incident_comment", key=incident.key),
        {"text": "Paged the DBA."},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b'id="timeline"' in response.content
    assert b"Paged the DBA." in response.content
    assert b"<html" not in response.content


def test_key_search_jumps_to_the_incident_case_insensitively(acme, responder, login):
    incident = declare(acme, responder)
    response = login(responder).get(url("incident_search"), {"q": "acme-1"})
    assert response["Location"] == url("incident_detail", key=incident.key)
    fallback = login(responder).get(url("incident_search"), {"q": "errors"})
    assert fallback["Location"] == url("incident_list") + "?q=errors"


def test_edit_records_each_change_on_the_timeline(acme, responder, login):
    incident = declare(acme, responder)
    response = login(responder).post(
        url("incident_update", key=incident.key),
        {
            "title": "Checkout errors in EU",
            "kind": "real",
            "version": incident.version,
            "impact_summary": "EU customers saw 502s",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        messages = list(
            TimelineEvent.objects.filter(incident=incident).values_list("message", flat=True)
        )
    assert any("Changed title from Checkout errors to Checkout errors in EU" in m for m in messages)
    assert any("Updated the impact summary" in m for m in messages)


# — bulk ————————————————————————————————————————————————————————————————————————————————


def test_bulk_change_reports_per_incident_what_was_refused(acme, responder, login, make_member):
    open_one = declare(acme, responder, "Open one")
    closed_one = declare(acme, responder, "Dismissed one")
    with org_scope(acme):
        services.incident_transition(
            incident=closed_one, name="dismiss", actor=responder, note="test alert"
        )
    primary = declare(acme, responder, "Primary")
    response = login(responder).post(
        url("incident_bulk"),
        {
            "keys": [open_one.key, closed_one.key, "ACME-999"],
            "action": "mark_duplicate",
            "primary": primary.key,
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Marked duplicate of ACME-3" in body
    assert "is not possible while the incident is dismissed" in body
    assert "No such incident." in body
    assert fresh(open_one).duplicate_of_id == primary.pk
    assert fresh(closed_one).status == Status.DISMISSED


def test_bulk_severity_change_needs_a_reason(acme, responder, login):
    incident = declare(acme, responder)
    response = login(responder).post(
        url("incident_bulk"),
        {"keys": [incident.key], "action": "change_severity", "severity": sev(acme, 1).pk},
        follow=True,
    )
    assert b"Say why the severity changes." in response.content
    assert fresh(incident).severity.level == 3


def test_duplicate_picker_searches_rather_than_lists(acme, responder, login):
    declare(acme, responder, "Checkout errors")
    declare(acme, responder, "Ledger drift")
    client = login(responder)
    assert b"ACME-" not in client.get(url("incident_pick"), {"q": "x"}).content
    found = client.get(url("incident_pick"), {"q": "ledger"})
    assert b"ACME-2" in found.content
    assert b"ACME-1" not in found.content


# — verification, ownership and access buttons ——————————————————————————————————————————


def test_only_the_named_confirmer_can_answer_a_confirmation(acme, responder, make_member, login):
    confirmer = make_member(acme, Role.RESPONDER, email="c@acme.test").user
    incident = declare(acme, responder)
    client = login(responder)
    client.post(url("verification_request", key=incident.key), {"confirmer": confirmer.pk})
    with scopes_disabled():
        verification = incident.verifications.get()
    refused = client.post(
        url("verification_answer", key=incident.key, pk=verification.pk),
        {"passed": "yes"},
        follow=True,
    )
    assert f"Only {confirmer} can answer this confirmation" in refused.content.decode()
    with scopes_disabled():
        verification.refresh_from_db()
    assert verification.status == "pending"
    login(confirmer).post(
        url("verification_answer", key=incident.key, pk=verification.pk), {"passed": "yes"}
    )
    with scopes_disabled():
        verification.refresh_from_db()
    assert verification.status == "passed"


def test_a_health_check_without_a_url_says_what_to_do_instead(acme, responder, login):
    incident = declare(acme, responder)
    response = login(responder).post(
        url("verification_health_check", key=incident.key), follow=True
    )
    assert b"No affected service has a health-check URL" in response.content
    with scopes_disabled():
        assert not incident.verifications.exists()


def test_a_health_check_is_queued_after_commit(
    acme, responder, login, django_capture_on_commit_callbacks, monkeypatch
):
    from incidents import tasks

    queued = []
    monkeypatch.setattr(tasks.run_health_check_task, "delay", lambda *a: queued.append(a))
    with scopes_disabled():
        service = Service.objects.create(
            organization=acme, name="Checkout", health_check_url="http://127.0.0.1:9/health"
        )
    incident = declare(acme, responder, primary_service=service)
    with django_capture_on_commit_callbacks(execute=True):
        login(responder).post(url("verification_health_check", key=incident.key))
    with scopes_disabled():
        verification = incident.verifications.get()
    assert queued == [(acme.pk, verification.pk)]


def test_ownership_request_and_decision_through_the_page(acme, responder, make_member, login):
    from tests.factories import TeamFactory

    owner_member = make_member(acme, Role.RESPONDER, email="owner@acme.test").user
    owners = TeamFactory(organization=acme, name="Payments", members=[owner_member])
    takers = TeamFactory(organization=acme, name="Platform", members=[responder])
    incident = declare(acme, responder, owning_team=owners)
    login(responder).post(
        url("ownership_request", key=incident.key), {"kind": "take", "to_team": takers.pk}
    )
    with scopes_disabled():
        request = incident.ownership_requests.get()
    stranger = login(responder).post(
        url("ownership_decide", key=incident.key, pk=request.pk), {"accept": "yes"}, follow=True
    )
    assert b"can answer" in stranger.content
    assert fresh(incident).owning_team == owners
    login(owner_member).post(
        url("ownership_decide", key=incident.key, pk=request.pk), {"accept": "yes"}
    )
    assert fresh(incident).owning_team == takers


def test_only_admins_and_the_commander_manage_access(acme, responder, viewer, login, make_member):
    commander = make_member(acme, Role.RESPONDER, email="ic@acme.test").user
    incident = declare(acme, responder, commander=commander)
    refused = login(responder).post(
        url("incident_access", key=incident.key), {"action": "restrict"}, follow=True
    )
    assert b"Only org admins and the incident commander" in refused.content
    assert fresh(incident).is_restricted is False
    login(commander).post(url("incident_access", key=incident.key), {"action": "restrict"})
    assert fresh(incident).is_restricted is True
    login(commander).post(
        url("incident_access", key=incident.key), {"action": "grant", "user": viewer.pk}
    )
    assert login(viewer).get(url("incident_detail", key=incident.key)).status_code == 200
