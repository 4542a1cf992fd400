"""The purge: only what is past retention, never what a legal hold reaches (left
bit-identical), receipts for every run (dry runs marked), idempotent."""

import pytest
from django_scopes import scopes_disabled

from compliance.models import RecordType
from compliance.retention import services
from compliance.retention.models import AnonymisedIncident, PurgeReceipt
from compliance.retention.tasks import purge_retention_task
from compliance.retention.types import ANONYMISED_TITLE, REMOVED
from incidents.models import Incident, TimelineEvent
from integrations.models import Alert, AlertGroup, RawPayload
from tenancy.scoping import org_scope
from tests.compliance.retention.factories import (
    alert_source,
    closed_incident,
    days_ago,
    dump_incidents,
    dump_table,
    payload,
    set_policy,
    switch_off_frameworks,
)
from tests.incidents.factories import ServiceFactory, declare, fresh

pytestmark = pytest.mark.django_db


def purge(org, **kwargs):
    return services.retention_purge(organization=org, origin="command:test", **kwargs)


def receipts(org, **filters):
    with scopes_disabled():
        return list(PurgeReceipt.objects.filter(organization=org, **filters).order_by("pk"))


def hold(org, actor, **scope):
    with org_scope(org):
        return services.legal_hold_create(
            organization=org, actor=actor, matter="Smith v. Acme", custodian=actor, **scope
        )


def payload_ids(org):
    with scopes_disabled():
        return set(RawPayload.objects.filter(organization=org).values_list("pk", flat=True))


# — what is past retention ——————————————————————————————————————————————————————————————


def test_only_closed_incidents_past_retention_are_anonymised(no_minimums, admin, responder):
    set_policy(no_minimums, admin, RecordType.INCIDENTS, 365)
    old = closed_incident(no_minimums, responder, closed_days_ago=400, title="Card data leak")
    young = closed_incident(no_minimums, responder, closed_days_ago=100, title="Young one")
    still_open = declare(no_minimums, responder, title="Still open")
    with scopes_disabled():
        Incident.objects.filter(pk=still_open.pk).update(detected_at=days_ago(900))
    untouched = dump_incidents([young.pk, still_open.pk])

    run = purge(no_minimums)

    [receipt] = run.receipts
    assert (receipt.record_type, receipt.count, receipt.action) == ("incidents", 1, "anonymise")
    old = fresh(old)
    assert old.title == ANONYMISED_TITLE
    assert (old.description, old.impact_summary, old.resolution_summary) == ("", "", "")
    assert old.commander is None
    assert old.reporter is None
    assert old.status == "closed"
    with scopes_disabled():
        messages = set(TimelineEvent.objects.filter(incident=old).values_list("message", flat=True))
        assert messages == {REMOVED}
        assert not TimelineEvent.objects.filter(incident=old, actor__isnull=False).exists()
        assert AnonymisedIncident.objects.filter(incident=old).exists()
    assert dump_incidents([young.pk, still_open.pk]) == untouched


def test_alerts_past_retention_go_with_their_payloads_and_emptied_groups(
    no_minimums, admin, responder
):
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    source = alert_source(no_minimums)
    old = payload(source, received_days_ago=45)
    young = payload(source, received_days_ago=5)
    open_incident = declare(no_minimums, responder, title="Ongoing")
    linked_to_open = payload(source, received_days_ago=60, incident=open_incident)

    [receipt] = purge(no_minimums).receipts

    assert (receipt.record_type, receipt.count) == ("alerts", 1)
    assert payload_ids(no_minimums) == {young.pk, linked_to_open.pk}
    with scopes_disabled():
        assert not Alert.objects.filter(raw_id=old.pk).exists()
        assert AlertGroup.objects.filter(organization=no_minimums).count() == 2
        assert AlertGroup.objects.filter(incident=open_incident).exists()


def test_a_record_type_without_a_policy_is_kept_forever(no_minimums, responder):
    source = alert_source(no_minimums)
    ancient = payload(source, received_days_ago=5000)
    closed_incident(no_minimums, responder, closed_days_ago=5000)
    assert purge(no_minimums).receipts == []
    assert payload_ids(no_minimums) == {ancient.pk}


def test_a_framework_enabled_after_the_policy_lengthens_what_the_purge_keeps(no_minimums, admin):
    from compliance.models import Framework, FrameworkKey

    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    source = alert_source(no_minimums)
    kept = payload(source, received_days_ago=45)
    with scopes_disabled():
        Framework.objects.filter(organization=no_minimums, key=FrameworkKey.SOX).update(
            enabled=True, retention_minimums={"alerts": 1}
        )
    assert purge(no_minimums).receipts == []
    assert kept.pk in payload_ids(no_minimums)


def test_another_organisations_rows_are_never_touched(no_minimums, globex, admin):
    switch_off_frameworks(globex)
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    theirs = payload(alert_source(globex), received_days_ago=400)
    before = dump_table("integrations_rawpayload", [theirs.pk])
    purge(no_minimums)
    assert dump_table("integrations_rawpayload", [theirs.pk]) == before


# — legal holds ——————————————————————————————————————————————————————————————————————————


@pytest.fixture
def two_old_incidents(no_minimums, admin, responder):
    """Two incidents closed 400 days ago (one on the "Payments" service, detected in a known
    window), a policy of a year, and an alert payload of each."""
    payments = ServiceFactory(organization=no_minimums, name="Payments")
    held = closed_incident(
        no_minimums, responder, closed_days_ago=400, title="Held one", primary_service=payments
    )
    free = closed_incident(no_minimums, responder, closed_days_ago=420, title="Free one")
    with scopes_disabled():
        Incident.objects.filter(pk=free.pk).update(detected_at=days_ago(700))
    source = alert_source(no_minimums)
    held_payload = payload(source, received_days_ago=400, incident=held)
    free_payload = payload(source, received_days_ago=700, incident=free)
    set_policy(no_minimums, admin, RecordType.INCIDENTS, 365)
    set_policy(no_minimums, admin, RecordType.ALERTS, 365)
    return {
        "held": fresh(held),
        "free": fresh(free),
        "service": payments,
        "held_payload": held_payload,
        "free_payload": free_payload,
    }


def scope_for(kind, rows):
    return {
        "by incident": {"incidents": [rows["held"]]},
        "by service": {"services": [rows["service"]]},
        # The held incident ran 401–400 days ago; the free one 700–420 days ago, its
        # payload came 700 days ago: both end before the range starts.
        "by date range": {"date_from": days_ago(410).date(), "date_to": days_ago(0).date()},
    }[kind]


@pytest.mark.parametrize("kind", ["by incident", "by service", "by date range"])
def test_a_hold_keeps_what_it_reaches_bit_identical_and_the_rest_goes(
    no_minimums, admin, two_old_incidents, kind
):
    rows = two_old_incidents
    the_hold = hold(no_minimums, admin, **scope_for(kind, rows))
    before = dump_incidents([rows["held"].pk])
    payload_before = dump_table("integrations_rawpayload", [rows["held_payload"].pk])
    alerts_before = dump_table(
        "integrations_alert", [a.pk for a in _alerts_of(rows["held_payload"])]
    )

    run = purge(no_minimums)

    counts = {r.record_type: (r.count, r.held_back) for r in run.receipts}
    assert counts == {"incidents": (1, 1), "alerts": (1, 1)}
    assert dump_incidents([rows["held"].pk]) == before
    assert dump_table("integrations_rawpayload", [rows["held_payload"].pk]) == payload_before
    assert (
        dump_table("integrations_alert", [a.pk for a in _alerts_of(rows["held_payload"])])
        == alerts_before
    )
    assert fresh(rows["free"]).title == ANONYMISED_TITLE
    assert payload_ids(no_minimums) == {rows["held_payload"].pk}
    plan = {p.key: p for p in services.purge_plan(no_minimums)}
    assert [(h.hold, h.count) for h in plan["incidents"].held] == [(the_hold, 1)]


def _alerts_of(raw):
    with scopes_disabled():
        return list(Alert.objects.filter(raw=raw))


def test_an_organisation_wide_hold_keeps_everything(no_minimums, admin, two_old_incidents):
    rows = two_old_incidents
    hold(no_minimums, admin, whole_organization=True)
    ids = [rows["held"].pk, rows["free"].pk]
    before = dump_incidents(ids)
    payloads_before = payload_ids(no_minimums)

    run = purge(no_minimums)

    assert run.receipts == []  # nothing removed, nothing to write home about
    assert dump_incidents(ids) == before
    assert payload_ids(no_minimums) == payloads_before
    plan = {p.key: p for p in services.purge_plan(no_minimums)}
    assert (plan["incidents"].count, plan["incidents"].held_total) == (0, 2)


def test_a_released_hold_lets_the_next_purge_remove(no_minimums, admin, two_old_incidents):
    rows = two_old_incidents
    the_hold = hold(no_minimums, admin, whole_organization=True)
    purge(no_minimums)
    assert fresh(rows["held"]).title == "Held one"

    with org_scope(no_minimums):
        services.legal_hold_release(hold=the_hold, actor=admin, note="Settled.")
    run = purge(no_minimums)

    assert {r.record_type: r.count for r in run.receipts} == {"incidents": 2, "alerts": 2}
    assert fresh(rows["held"]).title == ANONYMISED_TITLE
    the_hold.refresh_from_db()
    assert the_hold.released_by == admin
    assert the_hold.released_at is not None


def test_releasing_twice_is_refused(no_minimums, admin):
    from django.core.exceptions import ValidationError

    the_hold = hold(no_minimums, admin, whole_organization=True)
    with org_scope(no_minimums):
        services.legal_hold_release(hold=the_hold, actor=admin)
        with pytest.raises(ValidationError, match="already released"):
            services.legal_hold_release(hold=the_hold, actor=admin)


def test_a_hold_needs_a_scope_and_the_organisations_own_records(
    no_minimums, admin, globex, globex_admin
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Choose what the hold covers"):
        hold(no_minimums, admin)
    theirs = ServiceFactory(organization=globex)
    with pytest.raises(ValidationError, match="this organisation"):
        hold(no_minimums, admin, services=[theirs])
    with pytest.raises(ValidationError, match="this organisation"), org_scope(no_minimums):
        services.legal_hold_create(
            organization=no_minimums,
            actor=admin,
            matter="x",
            custodian=globex_admin.user,
            whole_organization=True,
        )


# — receipts and repeat runs ——————————————————————————————————————————————————————————


def test_a_dry_run_writes_marked_receipts_and_changes_nothing(
    no_minimums, admin, two_old_incidents
):
    rows = two_old_incidents
    ids = [rows["held"].pk, rows["free"].pk]
    before = dump_incidents(ids)

    run = services.retention_purge(organization=no_minimums, actor=admin, dry_run=True)

    assert {(r.record_type, r.count, r.dry_run) for r in run.receipts} == {
        ("incidents", 2, True),
        ("alerts", 2, True),
    }
    assert all(r.run_by == admin and r.run_id == run.run_id for r in run.receipts)
    assert dump_incidents(ids) == before
    assert len(payload_ids(no_minimums)) == 2


def test_a_receipt_says_what_which_policy_when_and_by_whom(no_minimums, admin, two_old_incidents):
    run = services.retention_purge(organization=no_minimums, actor=admin, origin="web")
    receipt = next(r for r in run.receipts if r.record_type == "alerts")
    assert receipt.policy.record_type == "alerts"
    assert receipt.policy_days == receipt.effective_days == 365
    assert receipt.origin == "web"
    assert receipt.run_by == admin
    assert not receipt.dry_run
    assert receipt.oldest < receipt.newest < receipt.cutoff
    assert receipts(no_minimums) == sorted(run.receipts, key=lambda r: r.pk)


def test_a_second_purge_finds_nothing_and_writes_no_receipt(no_minimums, two_old_incidents):
    first = purge(no_minimums)
    second = purge(no_minimums)
    assert sum(r.count for r in first.receipts) == 4
    assert second.receipts == []
    assert len(receipts(no_minimums)) == 2


def test_the_daily_task_purges_every_organisation_with_a_policy(
    no_minimums, globex, admin, globex_admin
):
    switch_off_frameworks(globex)
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    payload(alert_source(no_minimums), received_days_ago=90)
    kept = payload(alert_source(globex), received_days_ago=90)  # globex has no policy

    result = purge_retention_task()

    assert result == {"acme": 1}
    assert payload_ids(no_minimums) == set()
    assert payload_ids(globex) == {kept.pk}
    [receipt] = receipts(no_minimums)
    assert receipt.origin == "task:purge_retention"
    assert receipt.run_by is None


def test_an_organisation_wide_hold_with_a_narrower_one_still_keeps_everything(
    no_minimums, admin, two_old_incidents
):
    rows = two_old_incidents
    hold(no_minimums, admin, whole_organization=True)
    hold(no_minimums, admin, incidents=[rows["held"]])
    ids = [rows["held"].pk, rows["free"].pk]
    before = dump_incidents(ids)
    assert purge(no_minimums).receipts == []
    assert dump_incidents(ids) == before


def test_a_record_type_nothing_can_remove_gets_no_receipt_on_a_real_run(
    no_minimums, admin, responder
):
    from dataclasses import replace

    from compliance.records import REGISTRY

    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    payload(alert_source(no_minimums), received_days_ago=60)
    original = REGISTRY[RecordType.ALERTS]
    REGISTRY[RecordType.ALERTS] = replace(original, purge=None)
    try:
        assert purge(no_minimums).receipts == []
        [dry] = purge(no_minimums, dry_run=True).receipts
    finally:
        REGISTRY[RecordType.ALERTS] = original
    assert (dry.count, dry.dry_run) == (1, True)
    assert len(payload_ids(no_minimums)) == 1


def test_anonymising_unlinks_the_people_and_empties_the_text_around_the_incident(
    no_minimums, admin, responder, other_responder
):
    from guardian.shortcuts import assign_perm, get_users_with_perms

    from incidents.channels.models import WarRoomMessage
    from incidents.models import IncidentRole, StatusUpdate

    set_policy(no_minimums, admin, RecordType.INCIDENTS, 30)
    incident = closed_incident(
        no_minimums, responder, closed_days_ago=60, description="Leaked jane@example.com"
    )
    with scopes_disabled():
        Incident.objects.filter(pk=incident.pk).update(
            commander=responder, custom_fields={"customer": "Jane Doe"}
        )
        incident.watchers.add(other_responder)
        IncidentRole.objects.create(
            organization=no_minimums, incident=incident, role="scribe", user=other_responder
        )
        WarRoomMessage.objects.create(
            organization=no_minimums, incident=incident, author=responder, text="Call Jane"
        )
        StatusUpdate.objects.create(
            organization=no_minimums,
            incident=incident,
            author=responder,
            current_status="Jane's card data exposed",
        )
        assign_perm("incidents.view_incident", other_responder, incident)

    purge(no_minimums)

    with scopes_disabled():
        incident = Incident.objects.get(pk=incident.pk)
        assert (incident.description, incident.custom_fields, incident.commander) == ("", {}, None)
        assert not incident.watchers.exists()
        assert not IncidentRole.objects.filter(incident=incident).exists()
        assert list(
            WarRoomMessage.objects.filter(incident=incident).values_list("text", "author")
        ) == [(REMOVED, None)]
        assert list(
            StatusUpdate.objects.filter(incident=incident).values_list("current_status", "author")
        ) == [("", None)]
        assert other_responder not in get_users_with_perms(incident)
        assert incident.key.startswith("ACME-")  # the key stays: nothing may reuse it


def test_a_run_removes_at_most_its_batch_limit_and_the_next_run_goes_on(
    no_minimums, admin, monkeypatch
):
    monkeypatch.setattr(services, "MAX_ROWS_PER_RUN", 2)
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    source = alert_source(no_minimums)
    made = [payload(source, received_days_ago=60 + n) for n in range(3)]

    [first] = purge(no_minimums).receipts
    assert first.count == 2
    assert payload_ids(no_minimums) == {made[2].pk}  # the lowest ids went first
    [second] = purge(no_minimums).receipts
    assert second.count == 1
    assert payload_ids(no_minimums) == set()
