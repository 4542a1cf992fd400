"""Regressions found by the code review of the compliance part: each test failed before its fix.

- a legal hold placed while a purge runs is honoured (the hold waits for the purge);
- reports of an incident held through an affected service (or its period) are held too;
- a corrected awareness time re-arms the reminders and escalation of the new deadline;
- an obligation's deadline amount is bounded by its unit (no crash in the arithmetic);
- the obligations overview takes the same number of queries for 3 or 9 incidents;
- a malformed framework id is a 400, not a 500; a disabled framework stops its deadlines;
- a signed access review stays verifiable when a reviewer's e-mail changes;
- a report showing personal data is not e-mailed to a member who may not see it."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance import obligations
from compliance.frameworks import ensure_frameworks
from compliance.models import Framework, IncidentObligation, Obligation, RecordType
from compliance.reports.models import Report
from compliance.retention import services as retention
from compliance.retention.models import AnonymisedIncident
from integrations.models import RawPayload
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.compliance.retention.factories import (
    alert_source,
    closed_incident,
    days_ago,
    payload,
    set_policy,
    switch_off_frameworks,
)
from tests.incidents.factories import ServiceFactory, declare


@pytest.mark.django_db(transaction=True)
def test_a_hold_placed_while_a_purge_runs_is_honoured(acme, admin, monkeypatch):
    switch_off_frameworks(acme)
    set_policy(acme, admin, RecordType.ALERTS, 30)
    source = alert_source(acme)
    for n in range(3):
        payload(source, received_days_ago=60 + n)
    real_plan = retention.purge_plan
    errors, placed = [], threading.Event()

    def place_hold():
        try:
            with org_scope(acme):
                retention.legal_hold_create(
                    organization=acme,
                    actor=admin,
                    matter="Subpoena",
                    custodian=admin,
                    whole_organization=True,
                )
            placed.set()
        except Exception as error:  # collected for the assertion
            errors.append(error)
        finally:
            connection.close()

    hold_thread = threading.Thread(target=place_hold)

    def plan_then_hold(org, **kwargs):
        plans = real_plan(org, **kwargs)
        hold_thread.start()
        # The hold must wait for this purge: it is not placed behind the purge's back.
        assert not placed.wait(timeout=2)
        return plans

    monkeypatch.setattr(retention, "purge_plan", plan_then_hold)
    retention.retention_purge(organization=acme, origin="command:test")
    hold_thread.join(timeout=30)
    assert errors == []
    assert placed.is_set()  # placed once the purge committed
    # That purge ran before the hold existed (and removed what it planned); the next one
    # honours the hold.
    monkeypatch.setattr(retention, "purge_plan", real_plan)
    with scopes_disabled():
        assert RawPayload.objects.filter(organization=acme).count() == 0
    for n in range(2):
        payload(source, received_days_ago=90 + n)
    retention.retention_purge(organization=acme, origin="command:test")
    with scopes_disabled():
        assert RawPayload.objects.filter(organization=acme).count() == 2


@pytest.mark.django_db
def test_reports_of_an_incident_held_through_an_affected_service_are_kept(acme, admin, responder):
    switch_off_frameworks(acme)
    checkout = ServiceFactory(organization=acme, name="Checkout")
    ledger = ServiceFactory(organization=acme, name="Ledger")
    incident = closed_incident(acme, responder, closed_days_ago=400, primary_service=checkout)
    with scopes_disabled():
        incident.affected_services.add(ledger)
        Report.objects.create(
            organization=acme,
            incident=incident,
            obligation=None,
            format="gdpr_art33",
            version=1,
            generated_by=admin,
            generated_at=days_ago(300),
            content_hash="0" * 64,
            pdf=b"%PDF",
            pdf_sha256="0" * 64,
        )
    set_policy(acme, admin, RecordType.INCIDENTS, 30)
    set_policy(acme, admin, RecordType.REPORTS, 30)
    with org_scope(acme):
        retention.legal_hold_create(
            organization=acme, actor=admin, matter="M", custodian=admin, services=[ledger]
        )
    retention.retention_purge(organization=acme, origin="command:test")
    with scopes_disabled():
        assert not AnonymisedIncident.objects.filter(incident=incident).exists()
        assert Report.objects.filter(incident=incident).count() == 1


@pytest.mark.django_db
def test_reports_of_an_open_incident_are_not_purged(acme, admin, responder):
    switch_off_frameworks(acme)
    incident = declare(acme, responder, title="Still open")
    with scopes_disabled():
        Report.objects.create(
            organization=acme,
            incident=incident,
            obligation=None,
            format="gdpr_art33",
            version=1,
            generated_by=admin,
            generated_at=days_ago(300),
            content_hash="0" * 64,
            pdf=b"%PDF",
            pdf_sha256="0" * 64,
        )
    set_policy(acme, admin, RecordType.REPORTS, 30)
    retention.retention_purge(organization=acme, origin="command:test")
    with scopes_disabled():
        assert Report.objects.filter(incident=incident).count() == 1


@pytest.mark.django_db
def test_a_corrected_awareness_time_rearms_the_new_deadline(acme, admin, responder):
    now = timezone.now()
    incident = declare(acme, responder, title="Export leaked")
    obligations.save_facts(
        incident,
        actor=admin,
        now=now,
        data={"personal_data_breach": True, "aware_at": now - dt.timedelta(days=4)},
    )
    assert obligations.sweep(now=now)["escalation"] == 1  # the mistyped date: "missed"
    obligations.save_facts(
        incident, actor=admin, now=now, data={"aware_at": now - dt.timedelta(hours=1)}
    )
    with scopes_disabled():
        row = IncidentObligation.objects.get(incident=incident, obligation__key="gdpr-art33")
    assert row.due_at == now + dt.timedelta(hours=71)
    assert row.escalated_at is None
    assert obligations.sweep(now=row.remind_50_at)["50"] == 1
    assert obligations.sweep(now=row.due_at + dt.timedelta(minutes=1))["escalation"] == 1


@pytest.mark.django_db
def test_a_deadline_amount_is_bounded_by_its_unit(acme, admin, login):
    ensure_frameworks(acme.pk)
    with scopes_disabled():
        sec = Obligation.objects.get(organization=acme, key="sec-8k-105")
    address = reverse(
        "compliance:obligation_edit", kwargs={"org_slug": "acme", "obligation_key": sec.key}
    )
    form = {
        "name": sec.name,
        "reference": sec.reference,
        "trigger": sec.trigger,
        "clock_start": sec.clock_start,
        "deadline_unit": "business_days",
        "deadline_amount": "2000",
        "recipients": sec.recipients,
        "report_format": sec.report_format,
        "field_map_text": "{}",
    }
    response = login(admin).post(address, form)
    assert response.status_code == 200
    assert "At most 500 business days." in response.content.decode()
    with scopes_disabled():
        assert Obligation.objects.get(pk=sec.pk).deadline_amount == 4


@pytest.mark.django_db
def test_the_overview_takes_the_same_queries_for_3_or_9_incidents(acme, admin, responder, login):
    ensure_frameworks(acme.pk)
    service = ServiceFactory(organization=acme, name="Pay")

    def make(n):
        for i in range(n):
            incident = declare(
                acme, responder, title=f"i{i}", commander=responder, primary_service=service
            )
            obligations.save_facts(
                incident,
                actor=admin,
                data={"personal_data_breach": True, "financial_system": True},
            )

    client = login(admin)
    address = reverse("compliance:obligation_overview", kwargs={"org_slug": "acme"})
    make(3)
    client.get(address)  # warm-up: the session, the organisation's frameworks
    with CaptureQueriesContext(connection) as few:
        assert client.get(address, {"state": "all"}).status_code == 200
    make(6)
    with CaptureQueriesContext(connection) as many:
        assert client.get(address, {"state": "all"}).status_code == 200
    assert len(many) == len(few)


@pytest.mark.django_db
def test_a_malformed_framework_id_is_a_400(acme, admin, login):
    response = login(admin).post(
        reverse("compliance:framework_list", kwargs={"org_slug": "acme"}),
        {"framework": "abc", "enabled": "1"},
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_switching_a_framework_off_withdraws_and_silences_its_obligations(
    acme, admin, responder, login
):
    incident = declare(acme, responder, title="Export leaked")
    obligations.save_facts(incident, actor=admin, data={"personal_data_breach": True})
    with scopes_disabled():
        gdpr = Framework.objects.get(organization=acme, key="gdpr")
    login(admin).post(
        reverse("compliance:framework_list", kwargs={"org_slug": "acme"}),
        {"framework": gdpr.pk, "enabled": "0"},
    )
    with scopes_disabled():
        row = IncidentObligation.objects.get(incident=incident, obligation__key="gdpr-art33")
    assert row.status == "withdrawn"
    assert obligations.sweep(now=timezone.now() + dt.timedelta(days=30))["escalation"] == 0


@pytest.mark.django_db
def test_a_signed_review_stays_verifiable_when_an_email_changes(acme, admin, make_member):
    from compliance.reviews import export
    from compliance.reviews import services as reviews
    from compliance.reviews.models import ReviewLine

    other = make_member(acme, Role.COMPLIANCE, email="c@acme.test").user
    campaign = reviews.campaign_start(organization=acme, actor=admin)
    with scopes_disabled():
        lines = list(ReviewLine.objects.filter(campaign=campaign))
    for line in lines:
        reviews.line_certify(line=line, actor=other if line.user_id == admin.pk else admin)
    campaign = reviews.campaign_sign_off(campaign=campaign, actor=admin)
    assert export.content_hash_of(campaign) == campaign.signed_hash
    admin.email = "renamed@acme.test"
    admin.save()
    assert export.content_hash_of(campaign) == campaign.signed_hash
