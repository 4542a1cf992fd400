"""Daily roll-ups: built from the hand-built March of tests/reporting/conftest.py, then changed
the ways incidents change. After every change the triggers' dirty marks must take the touched
days out of the roll-ups until they are rebuilt, so the dashboard's figures always equal the
engine reading the incidents directly."""

import datetime
import time

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.models import Incident, SlaTimer
from incidents.selectors import incident_list
from postmortems.models import ActionItem, PostMortem
from reporting import kpis, rollups
from reporting.models import Rollup, RollupDay, RollupDirty
from reporting.tasks import refresh_rollups_task
from tenancy.scoping import org_scope
from tests.reporting.conftest import BERLIN, MARCH, berlin

pytestmark = pytest.mark.django_db

DAYS = [MARCH[0] - datetime.timedelta(days=1) + datetime.timedelta(days=n) for n in range(33)]
PERIOD = kpis.Period(*MARCH, BERLIN)


def both(acme, membership, **filters):
    """(from the roll-ups, from the incidents) for the same reader and filters."""
    with org_scope(acme):
        incidents = incident_list(organization=acme, user=membership.user, membership=membership)
        filters = kpis.Filters(**filters)
        stored = rollups.report(
            incidents=incidents, organization=acme, period=PERIOD, filters=filters
        )
        direct = kpis._report(
            incidents=incidents, organization=acme, period=PERIOD, filters=filters
        )
    return stored, direct


def close(a, b) -> bool:
    if a is None or b is None:
        return a == b
    return abs(a - b) <= datetime.timedelta(microseconds=1)


def assert_same(stored, direct):
    assert stored is not None, "the roll-ups should answer"
    for name in ("mtta", "mttr"):
        s, d = getattr(stored, name), getattr(direct, name)
        assert s.count == d.count, name
        for part in ("total", "mean", "median"):
            assert close(getattr(s, part), getattr(d, part)), (name, part)
    for name in (
        "volume",
        "by_severity",
        "by_category",
        "by_service",
        "by_team",
        "sla",
        "cadence",
        "postmortem_completion",
        "postmortem_timeliness",
        "action_items",
        "action_items_on_time",
        "reopen_rate",
        "alert_share",
        "between",
        "excluded",
    ):
        assert getattr(stored, name) == getattr(direct, name), name


def covered(acme):
    return set(rollups.covered_days(acme, PERIOD))


@pytest.fixture
def built(march, acme):
    rollups.build_days(acme, DAYS)
    assert covered(acme) == set(DAYS[1:32])
    return march


def test_every_slice_equals_the_engine(built, acme, acme_admin):
    for filters in (
        {},
        {"include_excluded": True},
        {"service": built.s1},
        {"service": built.s2},
        {"team": built.t1},
        {"severity": built.a.severity},
        {"category": built.a.category} if built.a.category_id else {},
    ):
        assert_same(*both(acme, acme_admin, **filters))


def test_other_organisations_are_never_rolled_up(built, acme, globex):
    with scopes_disabled():
        globex_ids = set(Incident.objects.filter(organization=globex).values_list("pk", flat=True))
    assert globex_ids
    assert not Rollup.objects.filter(organization=globex).exists()
    assert Rollup.objects.filter(organization=acme, fkind=rollups.ALL).exists()


def test_several_filters_read_the_incidents(built, acme, acme_admin):
    stored, _ = both(acme, acme_admin, service=built.s1, team=built.t1)
    assert stored is None


def test_nothing_built_reads_the_incidents(march, acme, acme_admin):
    stored, _ = both(acme, acme_admin)
    assert stored is None


def test_a_resolution_marks_its_days_dirty_and_stays_exact(built, acme, acme_admin):
    before = covered(acme)
    with scopes_disabled():
        Incident.objects.filter(pk=built.b.pk).update(
            status=Status.RESOLVED, resolved_at=berlin(20, 9)
        )
    after = covered(acme)
    # B's reported and acknowledged days, and the new resolved day, are counted live now.
    assert berlin(20, 9).date() not in after
    assert after < before
    assert_same(*both(acme, acme_admin))


@pytest.mark.parametrize(
    "change",
    [
        "severity",
        "affected_service",
        "dismiss",
        "restrict",
        "timer_breached",
        "postmortem_published",
        "action_item_done",
        "delete_timer",
    ],
)
def test_every_kind_of_change_keeps_the_figures_exact(change, built, acme, acme_admin):
    with scopes_disabled():
        a = Incident.objects.get(pk=built.a.pk)
        if change == "severity":
            other = Incident.objects.exclude(severity=a.severity).filter(organization=acme).first()
            Incident.objects.filter(pk=a.pk).update(severity=other.severity)
        elif change == "affected_service":
            a.affected_services.add(built.s2)
        elif change == "dismiss":
            Incident.objects.filter(pk=a.pk).update(status=Status.DISMISSED)
        elif change == "restrict":
            Incident.objects.filter(pk=a.pk).update(is_restricted=True)
        elif change == "timer_breached":
            SlaTimer.objects.filter(incident__organization=acme, met_at__isnull=False).update(
                breached_at=berlin(15, 12)
            )
        elif change == "postmortem_published":
            PostMortem.objects.filter(incident__organization=acme).update(
                published_at=berlin(25, 9)
            )
        elif change == "action_item_done":
            ActionItem.objects.filter(organization=acme).update(
                status=ActionItem.Status.DONE, completed_at=berlin(28, 9)
            )
        elif change == "delete_timer":
            SlaTimer.objects.filter(incident__organization=acme).delete()
    assert covered(acme) < set(DAYS[1:32])
    assert_same(*both(acme, acme_admin))
    assert_same(*both(acme, acme_admin, include_excluded=True))
    assert_same(*both(acme, acme_admin, service=built.s2))


def test_a_restricted_incident_counts_live_for_readers_who_may_see_it(
    built, acme, acme_admin, make_member
):
    from tenancy.roles import Role

    manager = make_member(acme, Role.MANAGER)
    with scopes_disabled():
        Incident.objects.filter(pk__in=[built.b.pk, built.h.pk]).update(is_restricted=True)
    rollups.refresh(acme)  # rebuilt without them

    stored, direct = both(acme, acme_admin)
    assert stored.volume == 4  # the admin sees all four, two of them counted live
    assert_same(stored, direct)
    hidden, direct = both(acme, manager)
    assert hidden.volume == 2
    assert_same(hidden, direct)
    with scopes_disabled():
        from guardian.shortcuts import assign_perm

        assign_perm("view_incident", manager.user, Incident.objects.get(pk=built.h.pk))
    granted, direct = both(acme, manager)
    assert granted.volume == 3  # H counted live for this reader
    assert_same(granted, direct)


def test_refresh_rebuilds_dirty_days_and_clears_their_marks(built, acme, acme_admin):
    with scopes_disabled():
        Incident.objects.filter(pk=built.a.pk).update(reopen_count=1)
    assert RollupDirty.objects.filter(organization=acme).exists()

    rebuilt = rollups.refresh(acme, limit=1000)

    assert rebuilt >= 1
    assert not RollupDirty.objects.filter(organization=acme).exists()
    assert covered(acme) == set(DAYS[1:32])
    assert_same(*both(acme, acme_admin))


def test_changing_the_time_zone_unbuilds_every_day(built, acme):
    acme.timezone = "America/New_York"
    acme.save(update_fields=["timezone"])
    assert not RollupDay.objects.filter(organization=acme).exists()


def test_the_dashboard_reads_the_roll_ups_in_a_fixed_number_of_queries(
    built, acme, client, acme_admin, django_assert_max_num_queries
):
    client.force_login(acme_admin.user)
    url = f"/o/{acme.slug}/reports/?period=custom&since=2026-03-01&until=2026-03-31"
    with django_assert_max_num_queries(25) as captured:
        response = client.get(url)
    assert response.status_code == 200
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "reporting_rollup" in sql
    # Four incidents counted, as on the hand-built March.
    assert response.context["report"].volume == 4


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_task_builds_the_days_through_a_real_worker(celery_worker, acme, admin):
    from tests.incidents.factories import declare, severity

    incident = declare(acme, admin, severity=severity(acme, "SEV-3"))
    day = incident.reported_at.astimezone(acme.tzinfo).date()
    celery_worker(concurrency=2)

    for _ in range(2):  # two ticks at once: one builds, the other skips or finds nothing
        refresh_rollups_task.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if RollupDay.objects.filter(organization=acme, day=day).exists():
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the worker did not build today's roll-up")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT volume FROM reporting_rollup WHERE organization_id = %s AND day = %s "
            "AND fkind = 0 AND counted",
            [acme.pk, day],
        )
        assert cursor.fetchone() == (1,)
