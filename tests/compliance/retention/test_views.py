"""Retention pages: compliance staff and admins only (404 for everyone else), policy form
with the frameworks' minimums, what-if, legal holds, preview, purge with confirmation,
receipts."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import Framework, FrameworkKey, RecordType
from compliance.retention.models import LegalHold, PurgeReceipt, RetentionPolicy
from integrations.models import RawPayload
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.compliance.retention.factories import (
    alert_source,
    closed_incident,
    payload,
    set_policy,
    switch_off_frameworks,
)
from tests.incidents.factories import ServiceFactory, fresh

pytestmark = pytest.mark.django_db


def url(name, org="acme", **kwargs):
    return reverse(f"compliance_retention:{name}", kwargs={"org_slug": org, **kwargs})


ALL_URLS = [
    ("overview", {}),
    ("policy_edit", {"record_type": "alerts"}),
    ("hold_create", {}),
    ("hold_release", {"pk": 1}),
    ("preview", {}),
    ("purge_run", {}),
    ("receipt_list", {}),
]


def policies(org):
    with scopes_disabled():
        return list(RetentionPolicy.objects.filter(organization=org))


def holds(org):
    with scopes_disabled():
        return list(LegalHold.objects.filter(organization=org))


def payload_count(org):
    with scopes_disabled():
        return RawPayload.objects.filter(organization=org).count()


@pytest.fixture
def old_alerts(no_minimums, admin):
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    source = alert_source(no_minimums)
    return [payload(source, received_days_ago=40 + n) for n in range(3)]


# — who may see the pages ————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COMPLIANCE])
def test_admins_and_compliance_staff_see_the_overview(acme, make_member, login, role):
    response = login(make_member(acme, role).user).get(url("overview"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "No policy — kept forever" in content
    assert "Storage (estimate)" in content
    assert "7 years (SOX)" in content  # seeded frameworks: SOX's minimum for audit entries


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER, Role.MANAGER])
def test_other_roles_get_404_everywhere_and_change_nothing(
    no_minimums, old_alerts, make_member, login, role
):
    client = login(make_member(no_minimums, role).user)
    for name, kwargs in ALL_URLS:
        assert client.get(url(name, **kwargs)).status_code == 404, name
        response = client.post(url(name, **kwargs), {"confirm": "on", "years": 1, "matter": "x"})
        assert response.status_code == 404, name
    assert payload_count(no_minimums) == 3
    assert holds(no_minimums) == []
    with scopes_disabled():
        assert not PurgeReceipt.objects.exists()


def test_another_organisations_admin_gets_404_and_changes_nothing(
    no_minimums, old_alerts, globex_admin, login
):
    client = login(globex_admin.user)
    for name, kwargs in ALL_URLS:
        assert client.get(url(name, **kwargs)).status_code == 404, name
        assert client.post(url(name, **kwargs), {"confirm": "on"}).status_code == 404, name
    assert payload_count(no_minimums) == 3


def test_another_organisations_hold_cannot_be_released(acme, globex, admin, globex_admin, login):
    with org_scope(globex):
        from compliance.retention.services import legal_hold_create

        theirs = legal_hold_create(
            organization=globex,
            actor=globex_admin.user,
            matter="Theirs",
            custodian=globex_admin.user,
            whole_organization=True,
        )
    client = login(admin)
    assert client.get(url("hold_release", pk=theirs.pk)).status_code == 404
    assert client.post(url("hold_release", pk=theirs.pk), {"note": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.released_at is None


# — policies —————————————————————————————————————————————————————————————————————————————


def test_a_policy_below_the_sox_minimum_is_refused_on_the_form(acme, admin, login):
    client = login(admin)
    response = client.post(
        url("policy_edit", record_type="audit_entries"),
        {"years": 5, "months": 0, "days": 0, "action": "delete"},
    )
    assert response.status_code == 200
    assert "at least 7 years while SOX is enabled" in response.content.decode()
    assert policies(acme) == []


def test_a_policy_is_saved_from_years_months_days(acme, admin, login):
    client = login(admin)
    response = client.post(
        url("policy_edit", record_type="audit_entries"),
        {"years": 7, "months": 6, "days": 0, "action": "delete"},
    )
    assert response.status_code == 302
    [policy] = policies(acme)
    assert policy.record_type == "audit_entries"
    assert policy.duration_text == "7 years, 6 months"
    assert policy.days > 7 * 365 + 180
    overview = client.get(url("overview")).content.decode()
    assert "Delete after" in overview


def test_a_policy_can_be_removed_to_keep_forever(no_minimums, admin, login):
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    response = login(admin).post(url("policy_edit", record_type="alerts"), {"remove": "1"})
    assert response.status_code == 302
    assert policies(no_minimums) == []


@pytest.mark.parametrize(
    "data",
    [
        {"years": 0, "months": 0, "days": 0, "action": "delete"},
        {"years": -1, "action": "delete"},
        {"years": "many", "action": "delete"},
        {"years": 101, "action": "delete"},
        {"days": 10, "action": "anonymise"},
    ],
)
def test_bad_policy_input_is_explained_and_nothing_saved(no_minimums, admin, login, data):
    response = login(admin).post(url("policy_edit", record_type="alerts"), data)
    assert response.status_code == 200
    assert b'class="error"' in response.content or b"message error" in response.content
    assert policies(no_minimums) == []


def test_an_unknown_record_type_is_404(acme, admin, login):
    assert login(admin).get(url("policy_edit", record_type="nonsense")).status_code == 404


def test_incidents_can_only_be_anonymised(no_minimums, admin, login):
    response = login(admin).get(url("policy_edit", record_type="incidents"))
    content = response.content.decode()
    assert 'value="anonymise"' in content
    assert 'value="delete"' not in content


# — what if ——————————————————————————————————————————————————————————————————————————————


def test_what_if_shows_rows_and_bytes_freed_without_saving(no_minimums, admin, login):
    source = alert_source(no_minimums)
    for n in range(3):
        payload(source, received_days_ago=100 + n)
    payload(source, received_days_ago=10)
    response = login(admin).get(
        url("overview"),
        {"whatif-record_type": "alerts", "whatif-years": 0, "whatif-months": 0, "whatif-days": 60},
    )
    content = response.content.decode()
    assert "would remove <strong>3</strong> rows" in content
    assert policies(no_minimums) == []
    assert payload_count(no_minimums) == 4


def test_what_if_warns_below_a_framework_minimum(acme, admin, login):
    ensure_frameworks(acme.pk)
    response = login(admin).get(
        url("overview"),
        {"whatif-record_type": "audit_entries", "whatif-years": 1},
    )
    assert "shorter than the SOX minimum of 7 years" in response.content.decode()


# — legal holds ——————————————————————————————————————————————————————————————————————————


def test_a_hold_is_placed_on_incidents_by_key_and_services(no_minimums, admin, responder, login):
    incident = closed_incident(no_minimums, responder, closed_days_ago=10)
    service = ServiceFactory(organization=no_minimums, name="Payments")
    response = login(admin).post(
        url("hold_create"),
        {
            "matter": "Smith v. Acme",
            "custodian": admin.pk,
            "incident_keys": incident.key.lower(),
            "services": [service.pk],
        },
    )
    assert response.status_code == 302
    [hold] = holds(no_minimums)
    with scopes_disabled():
        assert list(hold.incidents.all()) == [incident]
        assert list(hold.services.all()) == [service]
    assert hold.created_by == admin
    assert hold.custodian == admin


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"matter": "x"}, "Choose what the hold covers"),
        ({"matter": "x", "incident_keys": "ACME-999"}, "No such incident here: ACME-999"),
        (
            {"matter": "x", "date_from": "2026-05-01", "date_to": "2026-01-01"},
            "The range ends before it starts",
        ),
        ({"matter": "", "whole_organization": "on"}, "This field is required"),
    ],
)
def test_bad_holds_are_explained_and_nothing_saved(no_minimums, admin, login, data, message):
    response = login(admin).post(url("hold_create"), {"custodian": admin.pk, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert holds(no_minimums) == []


def test_a_member_of_another_organisation_cannot_be_custodian(
    no_minimums, admin, globex_admin, login
):
    response = login(admin).post(
        url("hold_create"),
        {"matter": "x", "whole_organization": "on", "custodian": globex_admin.user.pk},
    )
    assert "Select a valid choice" in response.content.decode()
    assert holds(no_minimums) == []


def test_release_asks_first_then_keeps_the_row(no_minimums, admin, login):
    client = login(admin)
    data = {"matter": "Audit 2026", "custodian": admin.pk, "whole_organization": "on"}
    client.post(url("hold_create"), data)
    [hold] = holds(no_minimums)
    page = client.get(url("hold_release", pk=hold.pk))
    assert "Once released, the next purge may delete" in page.content.decode()
    hold.refresh_from_db()
    assert hold.released_at is None
    assert client.post(url("hold_release", pk=hold.pk), {"note": ""}).status_code == 200
    hold.refresh_from_db()
    assert hold.released_at is None  # a reason is required
    assert client.post(url("hold_release", pk=hold.pk), {"note": "Closed."}).status_code == 302
    [hold] = holds(no_minimums)
    assert hold.released_by == admin
    assert hold.release_note == "Closed."


# — preview, purge, receipts —————————————————————————————————————————————————————————————


def test_the_preview_counts_what_would_go_and_what_a_hold_keeps(
    no_minimums, admin, responder, login
):
    set_policy(no_minimums, admin, RecordType.INCIDENTS, 30)
    closed_incident(no_minimums, responder, closed_days_ago=60, title="Goes")
    held = closed_incident(no_minimums, responder, closed_days_ago=90, title="Stays")
    client = login(admin)
    client.post(
        url("hold_create"),
        {"matter": "Smith v. Acme", "custodian": admin.pk, "incident_keys": held.key},
    )
    content = client.get(url("preview")).content.decode()
    assert "1 by “Smith v. Acme”" in content
    assert "In all, <strong>1</strong> record would be" in content
    assert fresh(held).title == "Stays"


def test_running_the_purge_needs_the_confirmation(no_minimums, old_alerts, admin, login):
    client = login(admin)
    page = client.get(url("purge_run"))
    assert "This removes <strong>3</strong> records for good" in page.content.decode()
    refused = client.post(url("purge_run"), {})
    assert "Tick the confirmation" in refused.content.decode()
    assert payload_count(no_minimums) == 3

    done = client.post(url("purge_run"), {"confirm": "on"}, follow=True)

    assert "Purge done: 3 records in 1 receipt." in done.content.decode()
    assert payload_count(no_minimums) == 0
    with scopes_disabled():
        [receipt] = PurgeReceipt.objects.all()
    assert (receipt.run_by, receipt.origin, receipt.dry_run) == (admin, "web", False)


def test_a_dry_run_from_the_page_writes_marked_receipts_only(no_minimums, old_alerts, admin, login):
    response = login(admin).post(url("purge_run"), {"dry_run": "on"}, follow=True)
    content = response.content.decode()
    assert "Dry run recorded: 3 records" in content
    assert "Dry run</span>" in content
    assert payload_count(no_minimums) == 3


def test_the_receipts_page_lists_runs_newest_first(no_minimums, old_alerts, admin, login):
    client = login(admin)
    client.post(url("purge_run"), {"dry_run": "on"})
    client.post(url("purge_run"), {"confirm": "on"})
    content = client.get(url("receipt_list")).content.decode()
    assert content.index("3 deleted") < content.index("3 would be deleted")


def test_the_overview_names_a_policy_left_below_a_newly_enabled_minimum(no_minimums, admin, login):
    set_policy(no_minimums, admin, RecordType.AUDIT_ENTRIES, 30)
    with scopes_disabled():
        Framework.objects.filter(organization=no_minimums, key=FrameworkKey.SOX).update(
            enabled=True
        )
    content = login(admin).get(url("overview")).content.decode()
    assert "Shorter than the SOX minimum" in content


def test_globex_frameworks_are_not_needed_for_acme(acme, globex, admin, login):
    switch_off_frameworks(acme)
    ensure_frameworks(globex.pk)
    content = login(admin).get(url("overview")).content.decode()
    assert "7 years (SOX)" not in content


def test_the_overview_takes_a_constant_number_of_queries(
    no_minimums, admin, responder, login, django_assert_max_num_queries
):
    client = login(admin)
    for n in range(5):
        incident = closed_incident(no_minimums, responder, closed_days_ago=10, title=f"I{n}")
        client.post(
            url("hold_create"),
            {"matter": f"Matter {n}", "custodian": admin.pk, "incident_keys": incident.key},
        )
    from compliance.records import REGISTRY

    # Two per registered record type (rows and storage), the rest for the page: not per hold.
    with django_assert_max_num_queries(16 + 2 * len(REGISTRY)):
        response = client.get(url("overview"))
    assert response.content.decode().count("Release…") == 5


def test_the_daily_purge_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-retention"]
    assert entry["task"] == "compliance.retention.tasks.purge_retention_task"
    from compliance.retention.tasks import purge_retention_task

    assert purge_retention_task.name == entry["task"]
