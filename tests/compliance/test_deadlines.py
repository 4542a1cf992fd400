"""Deadline arithmetic for every framework's rule: hours across DST, calendar days and months
as wall-clock time, business days across weekends and an organisation's holidays, in the
organisation's time zone; DORA's "4 h after classification, at the latest 24 h after
awareness"."""

import datetime as dt
import zoneinfo

import pytest

from compliance.models import DeadlineUnit
from compliance.obligations import add_business_days, compute_due, marks
from incidents.business_time import Calendar

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def local(tz, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


def cal(tz="Europe/Berlin", holidays=()) -> Calendar:
    return Calendar(timezone=tz, holidays=frozenset(holidays))


def test_gdpr_72_hours_are_real_hours_across_the_autumn_dst_change():
    # Berlin leaves summer time in the night to Sunday 25 October 2026: the wall clock shows
    # 09:00 three days later, not 10:00.
    aware = local(BERLIN, 2026, 10, 24, 10, 0)
    due = compute_due(aware, DeadlineUnit.HOURS, 72, cal())
    assert due - aware == dt.timedelta(hours=72)
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 10, 27, 9, 0)


def test_hipaa_60_calendar_days_keep_the_wall_clock_across_the_spring_dst_change():
    detected = local(NEW_YORK, 2026, 3, 1, 12, 0)  # EST; New York moves to EDT on 8 March
    due = compute_due(detected, DeadlineUnit.CALENDAR_DAYS, 60, cal("America/New_York"))
    assert due.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 4, 30, 12, 0)
    assert due - detected == dt.timedelta(days=60) - dt.timedelta(hours=1)


def test_sec_four_business_days_skip_the_weekend():
    # Determined on Thursday 26 November: Fri 27 (1), Mon 30 (2), Tue 1 (3), Wed 2 (4).
    determined = local(NEW_YORK, 2026, 11, 26, 15, 0)
    due = compute_due(determined, DeadlineUnit.BUSINESS_DAYS, 4, cal("America/New_York"))
    assert due.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 12, 2, 23, 59, 59)


def test_sec_business_days_skip_the_organisations_holidays():
    holidays = {dt.date(2026, 12, 25), dt.date(2027, 1, 1)}
    determined = local(NEW_YORK, 2026, 12, 24, 15, 0)  # Thu; Fri 25 is a holiday
    due = compute_due(determined, DeadlineUnit.BUSINESS_DAYS, 4, cal("America/New_York", holidays))
    # Mon 28 (1), Tue 29 (2), Wed 30 (3), Thu 31 (4)
    assert due.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 12, 31, 23, 59, 59)
    # Without the holiday list it would have been Wednesday.
    plain = compute_due(determined, DeadlineUnit.BUSINESS_DAYS, 4, cal("America/New_York"))
    assert plain.astimezone(NEW_YORK).date() == dt.date(2026, 12, 30)


def test_business_days_count_in_the_organisations_time_zone():
    # 23:30 UTC on Thursday is already Friday 08:30 in Tokyo: the start day is Friday there.
    determined = dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC)
    tokyo = add_business_days(determined, 1, cal("Asia/Tokyo"))
    utc = add_business_days(determined, 1, cal("UTC"))
    assert tokyo == local(TOKYO, 2026, 11, 30, 23, 59, 59)  # Monday in Tokyo
    assert utc == dt.datetime(2026, 11, 27, 23, 59, 59, tzinfo=dt.UTC)  # Friday in UTC


def test_a_business_day_deadline_ends_after_a_dst_change_at_local_end_of_day():
    determined = local(BERLIN, 2026, 10, 23, 16, 0)  # Friday; DST ends Sunday 25
    due = compute_due(determined, DeadlineUnit.BUSINESS_DAYS, 1, cal())
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 10, 26, 23, 59, 59)
    assert due.utcoffset() == dt.timedelta(0)  # returned in UTC
    assert due == dt.datetime(2026, 10, 26, 22, 59, 59, tzinfo=dt.UTC)


def test_dora_initial_four_hours_after_classification_capped_at_24_hours_after_awareness():
    aware = local(BERLIN, 2026, 11, 2, 8, 0)
    early = compute_due(
        aware + dt.timedelta(hours=1),
        DeadlineUnit.HOURS,
        4,
        cal(),
        aware_at=aware,
        latest_hours_after_awareness=24,
    )
    assert early - aware == dt.timedelta(hours=5)
    late = compute_due(
        aware + dt.timedelta(hours=22),
        DeadlineUnit.HOURS,
        4,
        cal(),
        aware_at=aware,
        latest_hours_after_awareness=24,
    )
    assert late - aware == dt.timedelta(hours=24)
    # Not yet classified: the 24-hour limit from awareness already runs.
    unclassified = compute_due(
        None, DeadlineUnit.HOURS, 4, cal(), aware_at=aware, latest_hours_after_awareness=24
    )
    assert unclassified - aware == dt.timedelta(hours=24)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ((2027, 1, 31, 10, 0), (2027, 2, 28, 10, 0)),  # clamped to February's last day
        ((2028, 1, 31, 10, 0), (2028, 2, 29, 10, 0)),  # leap year
        ((2026, 12, 15, 9, 30), (2027, 1, 15, 9, 30)),  # across the year
        ((2026, 3, 15, 12, 0), (2026, 4, 15, 12, 0)),  # across the spring DST change
    ],
)
def test_dora_and_nis2_final_reports_one_month_later_on_the_wall_clock(start, expected):
    due = compute_due(local(BERLIN, *start), DeadlineUnit.MONTHS, 1, cal())
    assert due.astimezone(BERLIN) == local(BERLIN, *expected)


def test_nis2_early_warning_and_notification_hours():
    aware = local(BERLIN, 2026, 3, 28, 23, 0)  # summer time starts on the 29th
    early_warning = compute_due(aware, DeadlineUnit.HOURS, 24, cal())
    notification = compute_due(aware, DeadlineUnit.HOURS, 72, cal())
    assert early_warning - aware == dt.timedelta(hours=24)
    assert early_warning.astimezone(BERLIN) == local(BERLIN, 2026, 3, 30, 0, 0)
    assert notification - aware == dt.timedelta(hours=72)


def test_sox_and_undue_delay_have_no_deadline_and_an_unstarted_clock_has_none():
    start = local(BERLIN, 2026, 11, 27, 9, 0)
    assert compute_due(start, DeadlineUnit.NONE, 0, cal()) is None
    assert compute_due(None, DeadlineUnit.HOURS, 72, cal()) is None


def test_reminder_marks_at_half_and_four_fifths_of_the_window():
    start = dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC)
    half, eighty = marks(start, start + dt.timedelta(hours=72))
    assert half == start + dt.timedelta(hours=36)
    assert eighty == start + dt.timedelta(hours=57, minutes=36)


def test_a_calendar_without_working_days_fails_clearly():
    with pytest.raises(ValueError, match="no working day"):
        add_business_days(
            local(BERLIN, 2026, 11, 27, 9, 0), 1, Calendar(timezone="UTC", working_days=())
        )
