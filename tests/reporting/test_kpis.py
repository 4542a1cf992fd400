"""Each KPI on the hand-built March of tests/reporting/conftest.py, the answer worked out here
by hand: with the default exclusions and with "include excluded incidents".

Every test runs three times: reading the incidents directly ("raw"), from daily roll-ups of
the whole month built before the first reading ("built"), and with every other day built
("half": roll-ups and live counts merged). Roll-ups are built once per test, so a change a
test makes after its first reading reaches the figures only through the triggers' dirty
marks — which is what keeps the roll-ups honest."""

import datetime

import pytest

from incidents.selectors import incident_list
from reporting import kpis, rollups
from tenancy.scoping import org_scope
from tests.reporting.conftest import BERLIN, MARCH, berlin, minutes

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


ENGINE = {"name": "raw", "built": False}
MARCH_DAYS = [MARCH[0] - datetime.timedelta(days=1) + datetime.timedelta(days=n) for n in range(33)]


@pytest.fixture(autouse=True, params=["raw", "built", "half"])
def engine(request):
    ENGINE.update(name=request.param, built=False)
    yield request.param
    ENGINE.update(name="raw", built=False)


def build_once(acme):
    if ENGINE["name"] == "raw" or ENGINE["built"]:
        return
    days = MARCH_DAYS if ENGINE["name"] == "built" else MARCH_DAYS[::2]
    rollups.build_days(acme, days)
    ENGINE["built"] = True


def run(acme, acme_admin, **filters):
    build_once(acme)
    with org_scope(acme):
        incidents = incident_list(organization=acme, user=acme_admin.user, membership=acme_admin)
        return kpis.report(
            incidents=incidents,
            organization=acme,
            period=kpis.Period(*MARCH, BERLIN),
            filters=kpis.Filters(**filters),
        )


@pytest.fixture
def default(march, acme, acme_admin):
    return run(acme, acme_admin)


@pytest.fixture
def everything(march, acme, acme_admin):
    return run(acme, acme_admin, include_excluded=True)


def test_the_period_is_whole_days_in_the_organisations_time_zone():
    period = kpis.Period(*MARCH, BERLIN)

    assert period.start == datetime.datetime(2026, 2, 28, 23, 0, tzinfo=datetime.UTC)
    # Summer time began on 29 March: the period ends at 22:00 UTC, and is 743 hours long.
    assert period.end == datetime.datetime(2026, 3, 31, 22, 0, tzinfo=datetime.UTC)
    # (Python subtracts times of one zone as wall-clock times; the database compares instants.)
    assert period.end.astimezone(datetime.UTC) - period.start.astimezone(datetime.UTC) == 743 * HOUR


def test_volume_counts_a_b_c_h_only(default, march):
    """C (00:30 Berlin on 1 March) is in; D (00:30 Berlin on 1 April) is out; E, F, G are
    excluded; globex's X never counts."""
    assert default.volume == 4
    assert default.excluded == 3


def test_volume_including_excluded_adds_dismissed_duplicate_and_test(everything):
    assert everything.volume == 7  # A B C H + E F G
    assert everything.excluded == 0


def test_volume_by_severity_in_berlin_time(default):
    """In UTC, D (SEV-1) would be in March and C out: this catches the time zone."""
    assert [(bar.label, bar.count) for bar in default.by_severity] == [("SEV-2", 1), ("SEV-3", 3)]


def test_volume_by_service_counts_primary_and_affected_once_each(default, march):
    assert {(bar.key, bar.count) for bar in default.by_service} == {
        (march.s1.pk, 2),  # A, B
        (march.s2.pk, 2),  # B (affected), C
    }


def test_volume_by_category_and_team(default, march):
    assert {(bar.key, bar.count) for bar in default.by_category} == {(march.c1.pk, 2), (None, 2)}
    assert [(bar.key, bar.count) for bar in default.by_team] == [(march.t1.pk, 1)]


def test_mtta_is_mean_and_median_of_reported_to_acknowledged(default):
    # A 5 min, B 15 min, C 10 min, H 20 min
    assert default.mtta.count == 4
    assert default.mtta.total == minutes(50)
    assert default.mtta.mean == minutes(12.5)
    assert default.mtta.median == minutes(12.5)


def test_mtta_with_excluded_incidents(everything):
    # + F 2 min, G 60 min; E never acknowledged
    assert everything.mtta.count == 6
    assert everything.mtta.total == minutes(112)
    assert everything.mtta.median == minutes(12.5)


def test_mttr_sums_impact_periods_of_a_reopened_incident(default):
    """A: detected 9:50 → resolved 11:50 = 2 h. B (reopened): 1 h + 30 min of impact, plus
    30 min from the end of its last period to its resolution = 2 h (not the 29 h from
    detection to the final resolution). H: 4 h."""
    assert default.mttr.count == 3
    assert default.mttr.total == 8 * HOUR
    assert default.mttr.mean == datetime.timedelta(hours=8 / 3)
    assert default.mttr.median == 2 * HOUR


def test_mttr_with_excluded_incidents(everything):
    # + G (test): 3 h
    assert everything.mttr.total == 11 * HOUR
    assert everything.mttr.median == 2.5 * HOUR


def test_sla_compliance_per_phase(default):
    """A met acknowledge, B met acknowledge and mitigate (its April breach is outside); A's
    resolve timer was breached before it was met; C's stopped timer counts nowhere."""
    assert (default.sla["acknowledge"].numerator, default.sla["acknowledge"].denominator) == (2, 2)
    assert (default.sla["mitigate"].numerator, default.sla["mitigate"].denominator) == (1, 1)
    assert (default.sla["resolve"].numerator, default.sla["resolve"].denominator) == (0, 1)


def test_sla_compliance_with_excluded_incidents(everything):
    assert (everything.sla["acknowledge"].numerator, everything.sla["acknowledge"].denominator) == (
        2,
        3,
    )


def test_status_update_cadence_adherence(default, everything):
    # A on time and 2 min late, C on time; A's update without a cadence and D's April one out
    assert (default.cadence.numerator, default.cadence.denominator) == (2, 3)
    assert (everything.cadence.numerator, everything.cadence.denominator) == (2, 4)  # + G late


def test_postmortem_completion_and_timeliness(default, everything):
    # Required: A (published on time), B (published late), H (not published)
    assert (default.postmortem_completion.numerator, default.postmortem_completion.denominator) == (
        2,
        3,
    )
    assert (default.postmortem_timeliness.numerator, default.postmortem_timeliness.denominator) == (
        1,
        2,
    )
    # + G (test): published, no review due time = on time
    assert (
        everything.postmortem_completion.numerator,
        everything.postmortem_completion.denominator,
    ) == (3, 4)
    assert (
        everything.postmortem_timeliness.numerator,
        everything.postmortem_timeliness.denominator,
    ) == (2, 3)


def test_action_item_completion_in_the_organisations_time_zone(default, everything):
    """Due in March and not "won't do": 10th (done 00:30 Berlin on the 11th — late, though
    still the 10th in UTC), 20th (done on time), 25th (open)."""
    assert (default.action_items.numerator, default.action_items.denominator) == (2, 3)
    assert (default.action_items_on_time.numerator, default.action_items_on_time.denominator) == (
        1,
        2,
    )
    # + G's item, done on time
    assert (everything.action_items.numerator, everything.action_items.denominator) == (3, 4)
    assert (
        everything.action_items_on_time.numerator,
        everything.action_items_on_time.denominator,
    ) == (2, 3)


def test_reopen_rate_and_alert_share(default, everything):
    assert (default.reopen_rate.numerator, default.reopen_rate.denominator) == (1, 4)  # B
    assert (default.alert_share.numerator, default.alert_share.denominator) == (2, 4)  # A, C
    assert default.alert_share.percent == 50.0
    assert (everything.reopen_rate.numerator, everything.reopen_rate.denominator) == (1, 7)


def test_mean_time_between_incidents_per_primary_service(default, march):
    """Payments API: A and B; Checkout has only C as its primary service."""
    [payments] = default.between
    assert payments.service_id == march.s1.pk
    assert payments.mean == berlin(10, 8) - berlin(2, 10)


def test_filters_narrow_like_the_incident_list(march, acme, acme_admin):
    by_service = run(acme, acme_admin, service=march.s2)
    by_team = run(acme, acme_admin, team=march.t1)

    assert by_service.volume == 2  # B (affected), C (primary)
    assert by_team.volume == 1  # A
    assert by_team.mtta.total == minutes(5)


def test_restricted_incident_counts_only_for_readers_who_may_see_it(
    march, acme, acme_admin, make_member
):
    from django_scopes import scopes_disabled
    from guardian.shortcuts import assign_perm

    from incidents.models import Incident
    from tenancy.roles import Role

    manager = make_member(acme, Role.MANAGER)
    with scopes_disabled():
        Incident.objects.filter(pk__in=[march.b.pk, march.h.pk]).update(is_restricted=True)

    assert run(acme, acme_admin).volume == 4
    hidden = run(acme, manager)
    assert hidden.volume == 2  # A, C
    assert {(bar.key, bar.count) for bar in hidden.by_service} == {
        (march.s1.pk, 1),
        (march.s2.pk, 1),
    }
    assert hidden.mttr.total == 2 * HOUR  # A only
    assert (hidden.sla["acknowledge"].numerator, hidden.sla["acknowledge"].denominator) == (1, 1)
    assert hidden.between == []
    with scopes_disabled():
        assign_perm("view_incident", manager.user, Incident.objects.get(pk=march.h.pk))
    assert run(acme, manager).volume == 3
