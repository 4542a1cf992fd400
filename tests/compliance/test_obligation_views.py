"""The compliance pages: who may see them, the incident's facts form raising obligations with
what is missing, marking drafted and submitted, the overview's filters, editing an obligation's
rule (open incidents re-computed) and switching frameworks."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from compliance import obligations
from compliance.frameworks import ensure_frameworks
from compliance.models import Framework, IncidentObligation, Obligation, ObligationStatus
from incidents.models import Incident
from tenancy.roles import Role
from tests.incidents.factories import declare


@pytest.fixture
def clerk(acme, make_member):
    return make_member(acme, Role.COMPLIANCE, email="clara@acme.test", full_name="Clara").user


@pytest.fixture
def incident(acme, responder):
    return declare(acme, responder, title="Customer e-mail addresses exposed")


def url(name, org="acme", **kwargs):
    return reverse(f"compliance:{name}", kwargs={"org_slug": org, **kwargs})


def gdpr_row(incident) -> IncidentObligation:
    with scopes_disabled():
        return IncidentObligation.objects.select_related("obligation").get(
            incident_id=incident.pk, obligation__key="gdpr-art33"
        )


@pytest.mark.parametrize("who", ["responder", "viewer", "manager", "stranger"])
def test_the_compliance_pages_are_404_without_manage_compliance(request, login, incident, who):
    client = login(request.getfixturevalue(who))
    for address in (
        url("obligation_overview"),
        url("framework_list"),
        url("incident_obligations", key=incident.key),
        url("obligation_edit", obligation_key="gdpr-art33"),
    ):
        assert client.get(address).status_code == 404, address


def test_another_organisations_incident_is_404(login, globex, globex_admin, incident):
    client = login(globex_admin.user)
    assert (
        client.get(url("incident_obligations", org="globex", key=incident.key)).status_code == 404
    )


def test_a_restricted_incident_is_404_for_compliance_staff_without_a_grant(
    acme, responder, login, clerk
):
    secret = declare(acme, responder, title="Insider case", is_restricted=True)
    assert login(clerk).get(url("incident_obligations", key=secret.key)).status_code == 404


def test_recording_facts_raises_the_obligation_with_deadline_and_missing_data(
    login, clerk, incident
):
    client = login(clerk)
    page = client.get(url("incident_obligations", key=incident.key))
    assert page.status_code == 200
    assert "No regulatory obligation applies" in page.content.decode()

    response = client.post(
        url("incident_obligations", key=incident.key),
        {"action": "facts", "personal_data_breach": "on", "subjects_affected": "1200"},
        follow=True,
    )
    html = response.content.decode()
    assert "Regulatory facts saved" in html
    assert "Notify the supervisory authority" in html
    assert "72 hours after awareness" in html
    assert 'data-testid="time-left"' in html
    # Nothing describes the impact or the measures yet: the report would lack them.
    assert "Still missing:" in html
    assert "Impact summary" in html
    assert "Categories of personal data" in html


def test_bad_facts_are_refused_with_reasons_and_change_nothing(login, clerk, incident):
    client = login(clerk)
    response = client.post(
        url("incident_obligations", key=incident.key),
        {
            "action": "facts",
            "material": "on",
            "high_risk_to_subjects": "on",
            "aware_at": "2099-01-01T10:00",
            "subjects_affected": "-4",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Say when materiality was determined" in html
    assert "implies a personal-data breach" in html
    assert "cannot be in the future" in html
    assert "greater than or equal to 0" in html
    with scopes_disabled():
        assert not IncidentObligation.objects.filter(incident_id=incident.pk).exists()


def test_mark_drafted_then_submitted_with_reference(login, clerk, incident):
    obligations.save_facts(incident, actor=clerk, data={"personal_data_breach": True})
    row = gdpr_row(incident)
    client = login(clerk)
    status_url = url("obligation_status", key=incident.key, pk=row.pk)

    client.post(status_url, {"action": "drafted"})
    assert gdpr_row(incident).status == ObligationStatus.DRAFTED

    response = client.post(
        status_url,
        {"action": "submitted", "submitted_at": "", "reference": "DPA-77"},
        follow=True,
    )
    assert "marked submitted" in response.content.decode()
    row = gdpr_row(incident)
    assert row.status == ObligationStatus.SUBMITTED
    assert row.submission_reference == "DPA-77"
    assert row.submitted_by == clerk

    again = client.post(status_url, {"action": "submitted"}, follow=True)
    assert "already submitted" in again.content.decode()


def test_a_future_or_malformed_submission_time_is_refused(login, clerk, incident):
    obligations.save_facts(incident, actor=clerk, data={"personal_data_breach": True})
    row = gdpr_row(incident)
    client = login(clerk)
    status_url = url("obligation_status", key=incident.key, pk=row.pk)
    future = client.post(
        status_url, {"action": "submitted", "submitted_at": "2099-05-01T10:00"}, follow=True
    )
    assert "cannot be in the future" in future.content.decode()
    garbage = client.post(
        status_url, {"action": "submitted", "submitted_at": "yesterday-ish"}, follow=True
    )
    assert "Enter a valid date/time" in garbage.content.decode()
    assert client.post(status_url, {"action": "explode"}).status_code == 400
    assert gdpr_row(incident).status == ObligationStatus.NOT_STARTED


def test_a_status_change_for_another_incidents_row_is_404(acme, responder, login, clerk, incident):
    obligations.save_facts(incident, actor=clerk, data={"personal_data_breach": True})
    other = declare(acme, responder, title="Unrelated")
    row = gdpr_row(incident)
    response = login(clerk).post(
        url("obligation_status", key=other.key, pk=row.pk), {"action": "drafted"}
    )
    assert response.status_code == 404
    assert gdpr_row(incident).status == ObligationStatus.NOT_STARTED


def test_the_overview_lists_open_obligations_by_deadline_and_filters(
    acme, responder, login, clerk, incident
):
    obligations.save_facts(incident, actor=clerk, data={"personal_data_breach": True})
    later = declare(acme, responder, title="Ledger sync touched")
    obligations.save_facts(later, actor=clerk, data={"financial_system": True})
    client = login(clerk)

    html = client.get(url("obligation_overview")).content.decode()
    assert html.index(incident.key) < html.index(later.key)  # dated first, no-deadline last
    assert "no external deadline" in html

    sox_only = client.get(url("obligation_overview"), {"framework": "sox"}).content.decode()
    assert "Incident evidence pack" in sox_only
    assert "Notify the supervisory authority" not in sox_only

    obligations.mark_submitted(gdpr_row(incident), actor=clerk)
    open_only = client.get(url("obligation_overview")).content.decode()
    assert "Notify the supervisory authority" not in open_only
    submitted = client.get(url("obligation_overview"), {"state": "submitted"}).content.decode()
    assert "Notify the supervisory authority" in submitted
    bad = client.get(url("obligation_overview"), {"state": "sideways"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()


def test_editing_an_obligation_recomputes_open_deadlines(acme, login, clerk, incident):
    obligations.save_facts(incident, actor=clerk, data={"personal_data_breach": True})
    with scopes_disabled():
        obligation = Obligation.objects.get(organization=acme, key="gdpr-art33")
    client = login(clerk)
    form = {
        "name": obligation.name,
        "reference": obligation.reference,
        "trigger": "personal_data_breach",
        "clock_start": "aware",
        "previous": "",
        "deadline_unit": "hours",
        "deadline_amount": "48",
        "latest_hours_after_awareness": "",
        "recipients": "Irish DPC",
        "report_format": "gdpr_art33",
        "guidance": "",
        "field_map_text": json.dumps({"Nature": ["incident.title"]}),
    }
    response = client.post(url("obligation_edit", obligation_key="gdpr-art33"), form, follow=True)
    assert "1 open incident(s) re-evaluated" in response.content.decode()
    with scopes_disabled():
        reported = Incident.objects.get(pk=incident.pk).reported_at
    assert gdpr_row(incident).due_at == reported + dt.timedelta(hours=48)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trigger": "bad_luck"}, "Use one of"),
        ({"trigger": "custom:nope"}, "No custom field has the key"),
        ({"field_map_text": "{not json"}, "Not valid JSON"),
        ({"field_map_text": '["a"]'}, "Give an object of section names"),
        ({"field_map_text": '{"A": ["password"]}'}, "is not incident.&lt;field&gt;"),
        ({"deadline_amount": "0"}, "Give the number of hours"),
        ({"clock_start": "previous_submitted"}, "Choose the notice whose submission"),
    ],
)
def test_a_bad_obligation_is_refused_with_the_reason(acme, login, clerk, change, message):
    ensure_frameworks(acme.pk)
    form = {
        "name": "Notify",
        "reference": "",
        "trigger": "personal_data_breach",
        "clock_start": "aware",
        "previous": "",
        "deadline_unit": "hours",
        "deadline_amount": "72",
        "latest_hours_after_awareness": "",
        "recipients": "DPA",
        "report_format": "gdpr_art33",
        "guidance": "",
        "field_map_text": "{}",
        **change,
    }
    response = login(clerk).post(url("obligation_edit", obligation_key="gdpr-art33"), form)
    assert response.status_code == 200
    assert message in response.content.decode()
    with scopes_disabled():
        assert Obligation.objects.get(organization=acme, key="gdpr-art33").deadline_amount == 72


def test_switching_a_framework_off_and_on(acme, login, clerk):
    client = login(clerk)
    html = client.get(url("framework_list")).content.decode()
    for name in ("GDPR", "HIPAA", "SEC", "DORA", "NIS2", "SOX"):
        assert f"Disable {name}" in html
    with scopes_disabled():
        sox = Framework.objects.get(organization=acme, key="sox")
    client.post(url("framework_list"), {"framework": sox.pk, "enabled": "0"})
    with scopes_disabled():
        assert not Framework.objects.get(pk=sox.pk).enabled
    assert "Enable SOX" in client.get(url("framework_list")).content.decode()


def test_another_organisations_framework_cannot_be_switched(globex, acme, login, clerk):
    ensure_frameworks(globex.pk)
    with scopes_disabled():
        theirs = Framework.objects.get(organization=globex, key="gdpr")
    response = login(clerk).post(url("framework_list"), {"framework": theirs.pk, "enabled": "0"})
    assert response.status_code == 404
    with scopes_disabled():
        assert Framework.objects.get(pk=theirs.pk).enabled


def test_the_incident_page_shows_the_obligations_to_compliance_staff_only(
    login, clerk, responder, incident
):
    obligations.save_facts(incident, actor=clerk, data={"personal_data_breach": True})
    address = reverse("incidents:incident_detail", kwargs={"org_slug": "acme", "key": incident.key})
    html = login(clerk).get(address).content.decode()
    assert 'id="regulatory"' in html
    assert "Notify the supervisory authority" in html
    assert 'id="regulatory"' not in login(responder).get(address).content.decode()
