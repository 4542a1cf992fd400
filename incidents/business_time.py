"""Business-hours arithmetic: add working minutes to an instant, across weekends, holidays and
daylight-saving changes. Windows are built in the calendar's zone and measured in real
elapsed time, so a DST night changes nothing about a 09:00–17:00 day."""

import datetime
import zoneinfo
from dataclasses import dataclass, field

MAX_DAYS = 3 * 366  # a calendar with no working day at all must not loop forever


@dataclass(frozen=True)
class Calendar:
    timezone: str = "UTC"
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays
    day_start: datetime.time = datetime.time(9, 0)
    day_end: datetime.time = datetime.time(17, 0)
    holidays: frozenset[datetime.date] = field(default_factory=frozenset)

    @classmethod
    def from_model(cls, calendar) -> "Calendar":
        return cls(
            timezone=calendar.timezone,
            working_days=tuple(calendar.working_days or (1, 2, 3, 4, 5)),
            day_start=calendar.day_start,
            day_end=calendar.day_end,
            holidays=frozenset(h.date for h in calendar.holidays.all()),
        )


def _window(calendar: Calendar, day: datetime.date, tz) -> tuple | None:
    if day.isoweekday() not in calendar.working_days or day in calendar.holidays:
        return None
    start = datetime.datetime.combine(day, calendar.day_start, tzinfo=tz)
    end = datetime.datetime.combine(day, calendar.day_end, tzinfo=tz)
    if end <= start:
        return None
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def add_business_time(
    start: datetime.datetime, duration: datetime.timedelta, calendar: Calendar
) -> datetime.datetime:
    """The instant when `duration` of working time has passed after `start`."""
    if duration <= datetime.timedelta(0):
        return start
    tz = zoneinfo.ZoneInfo(calendar.timezone)
    cursor = start.astimezone(datetime.UTC)
    remaining = duration
    day = start.astimezone(tz).date()
    for _ in range(MAX_DAYS):
        window = _window(calendar, day, tz)
        if window is not None:
            window_start, window_end = window
            begin = max(cursor, window_start)
            if begin < window_end:
                available = window_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += datetime.timedelta(days=1)
    raise ValueError("The calendar has no working time within three years.")


def business_time_between(
    start: datetime.datetime, end: datetime.datetime, calendar: Calendar
) -> datetime.timedelta:
    """Working time that passes between two instants (zero when end is before start)."""
    if end <= start:
        return datetime.timedelta(0)
    tz = zoneinfo.ZoneInfo(calendar.timezone)
    total = datetime.timedelta(0)
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        window = _window(calendar, day, tz)
        if window is not None:
            begin, finish = max(start, window[0]), min(end, window[1])
            if finish > begin:
                total += finish - begin
        day += datetime.timedelta(days=1)
    return total
