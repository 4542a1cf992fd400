"""The trends arithmetic (least squares, changes, baselines, flags, before/after windows) on
hand-built numbers, and the grouped queries on the hand-built weeks of trends_data.py — bucket
edges at midnight in Berlin across the change to summer time included."""

import datetime

import pytest

from incidents.selectors import incident_list
from reporting import kpis, trends
from reporting.trends_views import signed, slope_words
from tenancy.scoping import org_scope
from tests.reporting.conftest import BERLIN, berlin, make_incident, minutes
from tests.reporting.trends_data import HOUR, history_fixture  # noqa: F401 — the fixture

D = datetime.date


def test_least_squares_slope_and_intercept():
    # x 0..3, y 1 2 3 5: Σ(x−x̄)(y−ȳ) = 6.5, Σ(x−x̄)² = 5 → slope 1.3; ȳ − 1.3·x̄ = 2.75 − 1.95
    fit = trends.least_squares([1, 2, 3, 5])
    assert fit.slope == pytest.approx(1.3)
    assert fit.intercept == pytest.approx(0.8)
    assert fit.at(3) == pytest.approx(4.7)


def test_least_squares_skips_buckets_without_a_value():
    fit = trends.least_squares([None, 2, None, 4])  # through (1, 2) and (3, 4)
    assert (fit.slope, fit.intercept) == (pytest.approx(1), pytest.approx(1))
    assert trends.least_squares([None, 7]) is None
    assert trends.least_squares([]) is None


def test_percent_change():
    assert trends.percent_change(4, 5) == 25
    assert trends.percent_change(4, 3) == -25
    assert trends.percent_change(0, 3) is None  # no percentage from nothing
    assert trends.percent_change(None, 3) is None
    assert trends.percent_change(2, None) is None


def test_slope_in_words():
    assert slope_words(3.2, measure=trends.COUNT, unit="week") == "+3.2 incidents per week"
    assert slope_words(-1.0, measure=trends.COUNT, unit="week") == "−1 incidents per week"
    assert slope_words(-4200, measure=trends.REPAIR, unit="month") == "−1 h 10 min per month"
    assert slope_words(0.2, measure=trends.REPAIR, unit="week") == "±0 s per week"
    assert signed(0.04) == "±0"


def test_weeks_start_on_monday_and_months_on_the_first():
    weeks = trends.buckets(trends.WEEK, D(2026, 3, 18), D(2026, 4, 1), BERLIN)
    assert [(p.first, p.last) for p in weeks] == [
        (D(2026, 3, 16), D(2026, 3, 22)),
        (D(2026, 3, 23), D(2026, 3, 29)),
        (D(2026, 3, 30), D(2026, 4, 5)),
    ]
    months = trends.buckets(trends.MONTH, D(2025, 12, 5), D(2026, 2, 1), BERLIN)
    assert [(p.first, p.last) for p in months] == [
        (D(2025, 12, 1), D(2025, 12, 31)),
        (D(2026, 1, 1), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
    ]


def test_the_default_periods_are_the_last_complete_weeks_and_months():
    wednesday = D(2026, 4, 8)
    assert trends.last_full(trends.WEEK, wednesday, 26) == (D(2025, 10, 6), D(2026, 4, 5))
    assert trends.last_full(trends.MONTH, wednesday, 12) == (D(2025, 4, 1), D(2026, 3, 31))


def _visible(org, membership):
    return kpis.counted(
        incident_list(organization=org, user=membership.user, membership=membership),
        kpis.Filters(),
    )


@pytest.mark.django_db
def test_buckets_turn_at_midnight_in_berlin_across_summer_time(acme, acme_admin, admin):
    """Summer time began on Sunday 29 March 2026. In UTC the first and third incidents would
    fall a week later; the second a week earlier would be wrong too."""
    make_incident(acme, admin, reported=berlin(22, 23, 50))  # Sun → week of 16 Mar
    make_incident(acme, admin, reported=berlin(23, 0, 15))  # Mon 00:15 = Sun 23:15 UTC
    late = berlin(29, 23, 30)  # Sun 23:30 CEST = 21:30 UTC → week of 23 Mar
    make_incident(acme, admin, reported=late, resolved=late + minutes(40), status="resolved")
    monday = berlin(30, 0, 30)  # Mon 00:30 CEST = Sun 22:30 UTC → week of 30 Mar
    make_incident(
        acme,
        admin,
        reported=monday,
        acknowledged=monday + minutes(6),
        resolved=monday + HOUR,
        status="resolved",
    )
    make_incident(acme, admin, reported=berlin(1, 0, 30, month=4))  # April in Berlin
    periods = trends.buckets(trends.WEEK, D(2026, 3, 16), D(2026, 4, 5), BERLIN)
    months = trends.buckets(trends.MONTH, D(2026, 3, 1), D(2026, 4, 30), BERLIN)

    with org_scope(acme):
        weekly = trends.series(_visible(acme, acme_admin), periods, trends.WEEK)
        monthly = trends.series(_visible(acme, acme_admin), months, trends.MONTH)

    assert [p.volume for p in weekly] == [1, 2, 2]
    # The 29 March incident was resolved at 00:10 on Monday 30 March: repaired that week.
    assert [p.mttr for p in weekly] == [None, None, (minutes(40) + HOUR) / 2]
    assert [p.mtta for p in weekly] == [None, None, minutes(6)]
    assert [p.volume for p in monthly] == [4, 1]


@pytest.mark.django_db
def test_series_of_the_hand_built_weeks(history, acme, acme_admin, django_assert_max_num_queries):
    periods = trends.buckets(trends.WEEK, D(2026, 2, 2), D(2026, 3, 29), BERLIN)
    with org_scope(acme), django_assert_max_num_queries(6):
        points = trends.series(_visible(acme, acme_admin), periods, trends.WEEK)

    assert [p.volume for p in points] == [1, 1, 1, 1, 4, 0, 1, 0]
    assert [p.mttr for p in points] == [HOUR] * 4 + [2 * HOUR, None, None, None]
    assert [p.mtta for p in points] == [minutes(10)] * 4 + [minutes(20), None, minutes(30), None]


# — baselines ————————————————————————————————————————————————————————————————————————


def test_baseline_is_mean_and_sample_standard_deviation():
    base = trends.baseline([1, 2, 3, 4])
    assert base.mean == 2.5
    assert base.sigma == pytest.approx((5 / 3) ** 0.5)  # Σ(x − x̄)² = 5, ÷ (4 − 1)
    assert base.threshold == pytest.approx(2.5 + 2 * (5 / 3) ** 0.5)  # 5.08
    assert trends.baseline([1, 2, 3]) is None  # fewer than 4 weeks: no baseline


MONDAYS = [D(2026, 1, 5) + datetime.timedelta(weeks=n) for n in range(13)]


def counts(*values):
    return dict(zip(MONDAYS, values, strict=False))


def test_a_week_above_mean_plus_two_sigma_is_flagged():
    # 12 weeks 1 2 3 4 1 2 3 4 1 2 3 4: mean 2.5, σ = √(15/11) = 1.168, threshold 4.84
    history = counts(*([1, 2, 3, 4] * 3))
    flagged = trends.evaluate(
        {**history, MONDAYS[12]: 5}, [MONDAYS[12]], measure=trends.COUNT, history_from=MONDAYS[0]
    )[0]
    assert flagged.baseline.weeks == 12
    assert flagged.baseline.sigma == pytest.approx((15 / 11) ** 0.5)
    assert flagged.baseline.threshold == pytest.approx(4.8355, abs=1e-4)
    assert flagged.flagged
    calm = trends.evaluate(
        {**history, MONDAYS[12]: 4}, [MONDAYS[12]], measure=trends.COUNT, history_from=MONDAYS[0]
    )[0]
    assert not calm.flagged


def test_no_flag_before_four_weeks_of_history():
    values = counts(*([1, 2, 3, 4] * 3), 10)
    three = trends.evaluate(values, [MONDAYS[12]], measure=trends.COUNT, history_from=MONDAYS[9])
    assert three[0].baseline is None
    assert not three[0].flagged
    # From MONDAYS[8]: history 1 2 3 4 → threshold 5.08; 10 is flagged
    four = trends.evaluate(values, [MONDAYS[12]], measure=trends.COUNT, history_from=MONDAYS[8])
    assert four[0].baseline.weeks == 4
    assert four[0].flagged


def test_weeks_without_incidents_count_as_zero_and_sigma_zero_flags_above_the_mean():
    """Twelve empty weeks: mean 0, σ 0, threshold 0; 3 incidents are flagged, 2 are below
    the minimum of 3."""
    three = trends.evaluate(
        {MONDAYS[12]: 3}, [MONDAYS[12]], measure=trends.COUNT, history_from=MONDAYS[0]
    )[0]
    assert (three.baseline.mean, three.baseline.sigma, three.baseline.threshold) == (0, 0, 0)
    assert three.flagged
    two = trends.evaluate(
        {MONDAYS[12]: 2}, [MONDAYS[12]], measure=trends.COUNT, history_from=MONDAYS[0]
    )[0]
    assert not two.flagged


def test_repair_time_history_is_only_weeks_with_a_resolution():
    sparse = {MONDAYS[0]: 100.0, MONDAYS[4]: 100.0, MONDAYS[8]: 100.0, MONDAYS[12]: 9000.0}
    three = trends.evaluate(sparse, [MONDAYS[12]], measure=trends.REPAIR, history_from=MONDAYS[0])
    assert three[0].baseline is None  # three weeks with a value, not twelve zeros
    flat = {**counts(3600, 3600, 3600, 3600), MONDAYS[12]: 3601}
    flagged = trends.evaluate(flat, [MONDAYS[12]], measure=trends.REPAIR, history_from=MONDAYS[0])
    assert flagged[0].baseline.sigma == 0
    assert flagged[0].flagged  # σ = 0: above the mean is enough
    same = trends.evaluate(
        {**flat, MONDAYS[12]: 3600}, [MONDAYS[12]], measure=trends.REPAIR, history_from=MONDAYS[0]
    )
    assert not same[0].flagged
    # A week without a resolution has no repair value and is never flagged.
    empty = trends.evaluate(flat, [MONDAYS[11]], measure=trends.REPAIR, history_from=MONDAYS[0])
    assert empty[0].value is None
    assert not empty[0].flagged


def test_whole_weeks_of_a_period():
    march = kpis.Period(D(2026, 3, 1), D(2026, 3, 31), BERLIN)
    assert trends.whole_weeks(march) == [
        D(2026, 3, 2),
        D(2026, 3, 9),
        D(2026, 3, 16),
        D(2026, 3, 23),
    ]
    week = kpis.Period(D(2026, 3, 2), D(2026, 3, 8), BERLIN)
    assert trends.whole_weeks(week) == [D(2026, 3, 2)]


@pytest.mark.django_db
def test_anomalies_of_the_hand_built_weeks(
    history, acme, acme_admin, django_assert_max_num_queries
):
    """Week of 2 March: 4 incidents against 1 1 1 1 (mean 1, σ 0), repaired in 2 h against
    1 h — for Payments API (W1, W2 affected, W3, W4 primary only) and for Outage. Checkout
    has 1 incident (W5) on 16 March: below the minimum. T (test) and globex's X never count."""
    march = kpis.Period(D(2026, 3, 1), D(2026, 3, 31), BERLIN)
    with org_scope(acme), django_assert_max_num_queries(12):
        found = trends.anomalies(_visible(acme, acme_admin), acme, march)

    assert [
        (a.subject.label, a.measure, a.week, a.value, a.baseline.mean, a.baseline.sigma)
        for a in found
    ] == [
        ("Outage", trends.COUNT, D(2026, 3, 2), 4, 1, 0),
        ("Outage", trends.REPAIR, D(2026, 3, 2), 7200, 3600, 0),
        ("Payments API", trends.COUNT, D(2026, 3, 2), 4, 1, 0),
        ("Payments API", trends.REPAIR, D(2026, 3, 2), 7200, 3600, 0),
    ]
    assert found[0].baseline.weeks == 4  # history starts with acme's first incident (2 Feb)


@pytest.mark.django_db
def test_anomalies_leave_out_what_the_reader_may_not_see(history, acme, manager):
    from tenancy.models import Membership

    march = kpis.Period(D(2026, 3, 1), D(2026, 3, 31), BERLIN)
    with org_scope(acme):
        membership = Membership.objects.get(organization=acme, user=manager)
        found = trends.anomalies(_visible(acme, membership), acme, march)

    counts_seen = {a.subject.label: a.value for a in found if a.measure == trends.COUNT}
    assert counts_seen == {"Outage": 3, "Payments API": 3}  # W4 is restricted


# — before / after ———————————————————————————————————————————————————————————————————


def test_before_after_windows_are_equal_and_clipped_to_complete_weeks():
    change = D(2026, 3, 2)
    assert trends.windows(change, 8, D(2026, 3, 20)) == (
        (D(2026, 2, 16), D(2026, 3, 1)),
        (D(2026, 3, 2), D(2026, 3, 15)),
        2,  # 2–19 March holds two complete weeks
    )
    assert trends.windows(change, 8, change + datetime.timedelta(days=6)) is None
    assert trends.windows(change, 8, change + datetime.timedelta(days=7))[2] == 1
    assert trends.windows(change, 3, D(2026, 11, 1))[2] == 3


@pytest.mark.django_db
def test_before_after_figures(history, acme, acme_admin):
    """Before (2 Feb – 1 Mar): H1–H4, 1 a week, repaired in 1 h, acknowledged in 10 min.
    After (2 – 29 Mar): W1–W5, 1.25 a week, W1–W4 repaired in 2 h, acknowledged in
    (4 × 20 + 30) ÷ 5 = 22 min."""
    with org_scope(acme):
        before = trends.window(
            _visible(acme, acme_admin), kpis.Period(D(2026, 2, 2), D(2026, 3, 1), BERLIN), 4
        )
        after = trends.window(
            _visible(acme, acme_admin), kpis.Period(D(2026, 3, 2), D(2026, 3, 29), BERLIN), 4
        )

    assert (before.volume, before.per_week, after.volume, after.per_week) == (4, 1, 5, 1.25)
    assert (before.mttr.mean, after.mttr.mean) == (HOUR, 2 * HOUR)
    assert (before.mtta.mean, after.mtta.mean) == (minutes(10), minutes(22))
    assert trends.percent_change(before.per_week, after.per_week) == 25
    assert before.sla["acknowledge"].denominator == 0
