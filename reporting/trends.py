"""Trends, before/after comparisons, and weekly baselines with anomaly flags.

The query functions take the incidents the reader may see, already narrowed by
`kpis.counted()`, and whole periods or buckets (`kpis.Period`, days in the organisation's time
zone); each groups by bucket in SQL (date_trunc in that time zone), so the number of queries
does not grow with the data, and they could later read precomputed daily roll-ups instead
without the page changing. The arithmetic (least squares, changes, baselines) is pure Python
on the numbers they return. The written definitions are in `reporting.definitions` (TRENDS).
"""

import datetime
import statistics
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from incidents.models import Incident
from reporting import kpis
from taxonomy.models import Category, Service

WEEK, MONTH = "week", "month"
DAY = datetime.timedelta(days=1)
SEVEN_DAYS = datetime.timedelta(days=7)

HISTORY_WEEKS = 12  # a week's baseline: the 12 weeks before it
MIN_HISTORY_WEEKS = 4  # no baseline (and no flag) with fewer weeks of history
SIGMAS = 2  # flagged above mean + 2σ
MIN_COUNT = 3  # a weekly count is flagged only from 3 incidents up

COUNT, REPAIR = "incidents", "repair time"


@contextmanager
def _without_jit():
    """As kpis.report: the visibility subquery's inflated cost estimates trigger PostgreSQL's
    JIT, whose compile time exceeds the queries' own."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


# — buckets ——————————————————————————————————————————————————————————————————————————


def bucket_start(unit: str, day: datetime.date) -> datetime.date:
    """The Monday of `day`'s week, or the first of its month."""
    if unit == WEEK:
        return day - day.weekday() * DAY
    return day.replace(day=1)


def next_bucket(unit: str, first: datetime.date) -> datetime.date:
    if unit == WEEK:
        return first + SEVEN_DAYS
    return (first.replace(day=28) + 4 * DAY).replace(day=1)


def buckets(unit: str, first: datetime.date, last: datetime.date, tz) -> list[kpis.Period]:
    """The weeks (Monday–Sunday) or calendar months from the one holding `first` to the one
    holding `last`, each a whole-day period in `tz`."""
    periods = []
    start = bucket_start(unit, first)
    while start <= last:
        following = next_bucket(unit, start)
        periods.append(kpis.Period(start, following - DAY, tz))
        start = following
    return periods


def last_full(unit: str, today: datetime.date, count: int) -> tuple[datetime.date, datetime.date]:
    """The first and last day of the `count` complete weeks or months before `today`'s."""
    last = bucket_start(unit, today) - DAY
    first = bucket_start(unit, last)
    for _ in range(count - 1):
        first = bucket_start(unit, first - DAY)
    return first, last


def _trunc(unit: str, field_name: str, tz):
    return (TruncWeek if unit == WEEK else TruncMonth)(field_name, tzinfo=tz)


def _day(value, tz) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.astimezone(tz).date()
    return value


# — trends ———————————————————————————————————————————————————————————————————————————


@dataclass(frozen=True)
class Point:
    """One bucket of the trend: incidents reported in it; repair times of the incidents
    resolved in it (MTTR); acknowledgement times of those acknowledged in it (MTTA)."""

    period: kpis.Period
    volume: int
    resolved: int
    repair_total: datetime.timedelta | None
    acknowledged: int
    acknowledge_total: datetime.timedelta | None

    @property
    def mttr(self) -> datetime.timedelta | None:
        return self.repair_total / self.resolved if self.resolved else None

    @property
    def mtta(self) -> datetime.timedelta | None:
        return self.acknowledge_total / self.acknowledged if self.acknowledged else None


def series(incidents: QuerySet[Incident], periods: list[kpis.Period], unit: str) -> list[Point]:
    """Volume, MTTR and MTTA per bucket: three grouped queries over the whole range."""
    if not periods:
        return []
    tz = periods[0].tz
    whole = kpis.Period(periods[0].first, periods[-1].last, tz)
    with _without_jit():
        volume = dict(
            kpis.reported_in(incidents, whole)
            .annotate(bucket=_trunc(unit, "reported_at", tz))
            .values("bucket")
            .annotate(n=Count("pk"))
            .values_list("bucket", "n")
        )
        repair = {
            bucket: (n, total)
            for bucket, n, total in kpis.resolved_in(incidents, whole)
            .annotate(bucket=_trunc(unit, "resolved_at", tz), duration=kpis.repair_time())
            .values("bucket")
            .annotate(n=Count("pk"), total=Sum("duration"))
            .values_list("bucket", "n", "total")
        }
        acknowledge = {
            bucket: (n, total)
            for bucket, n, total in incidents.filter(whole.q("acknowledged_at"))
            .annotate(
                bucket=_trunc(unit, "acknowledged_at", tz),
                duration=F("acknowledged_at") - F("reported_at"),
            )
            .values("bucket")
            .annotate(n=Count("pk"), total=Sum("duration"))
            .values_list("bucket", "n", "total")
        }
    volume = {_day(key, tz): value for key, value in volume.items()}
    repair = {_day(key, tz): value for key, value in repair.items()}
    acknowledge = {_day(key, tz): value for key, value in acknowledge.items()}
    return [
        Point(
            period,
            volume.get(period.first, 0),
            *repair.get(period.first, (0, None)),
            *acknowledge.get(period.first, (0, None)),
        )
        for period in periods
    ]


@dataclass(frozen=True)
class Fit:
    """y = intercept + slope · x, x = the bucket's index (0 for the first)."""

    slope: float
    intercept: float

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def least_squares(values: list[float | None]) -> Fit | None:
    """The ordinary least-squares line through (index, value), skipping buckets without a
    value; None with fewer than two values."""
    points = [(x, y) for x, y in enumerate(values) if y is not None]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return Fit(slope, mean_y - slope * mean_x)


def percent_change(before: float | None, after: float | None) -> float | None:
    """100 × (after − before) ÷ before; None when either is missing or `before` is 0."""
    if before is None or after is None or before == 0:
        return None
    return 100 * (after - before) / before


# — before / after ———————————————————————————————————————————————————————————————————


def windows(
    day: datetime.date, weeks: int, today: datetime.date
) -> tuple[tuple[datetime.date, datetime.date], tuple[datetime.date, datetime.date], int] | None:
    """The `n` whole weeks (7-day spans) before `day` and the `n` from it, n = `weeks`
    clipped to the complete weeks between `day` and yesterday; None when not even one."""
    complete = ((today - DAY) - day).days + 1
    n = min(weeks, complete // 7)
    if n < 1:
        return None
    return (day - n * SEVEN_DAYS, day - DAY), (day, day + n * SEVEN_DAYS - DAY), n


@dataclass(frozen=True)
class Window:
    first: datetime.date
    last: datetime.date
    weeks: int
    volume: int
    mttr: kpis.Durations
    mtta: kpis.Durations
    sla: dict[str, kpis.Ratio]

    @property
    def per_week(self) -> float:
        return self.volume / self.weeks


def window(incidents: QuerySet[Incident], period: kpis.Period, weeks: int) -> Window:
    """The before/after figures of one window: four aggregate queries."""
    with _without_jit():
        return Window(
            period.first,
            period.last,
            weeks,
            kpis.volume(incidents, period)["total"],
            kpis.mttr(incidents, period),
            kpis.mtta(incidents, period),
            kpis.sla_compliance(incidents, period),
        )


# — baselines and anomalies ——————————————————————————————————————————————————————————


@dataclass(frozen=True)
class Baseline:
    """Mean and sample standard deviation of the weeks of history before a week."""

    mean: float
    sigma: float
    weeks: int

    @property
    def threshold(self) -> float:
        return self.mean + SIGMAS * self.sigma


def baseline(history: list[float]) -> Baseline | None:
    """None with fewer than MIN_HISTORY_WEEKS values; σ is the sample standard deviation
    (divisor n − 1)."""
    if len(history) < MIN_HISTORY_WEEKS:
        return None
    return Baseline(statistics.fmean(history), statistics.stdev(history), len(history))


def is_flagged(value: float | None, base: Baseline | None, measure: str) -> bool:
    """Above mean + 2σ (with σ = 0: above the mean), and for counts at least MIN_COUNT."""
    if value is None or base is None:
        return False
    if measure == COUNT and value < MIN_COUNT:
        return False
    return value > base.threshold


@dataclass(frozen=True)
class WeekValue:
    week: datetime.date  # its Monday
    value: float | None
    baseline: Baseline | None
    flagged: bool


def evaluate(
    values: dict[datetime.date, float],
    weeks: list[datetime.date],
    *,
    measure: str,
    history_from: datetime.date,
) -> list[WeekValue]:
    """Each of `weeks` (Mondays) with its value and its baseline over the 12 weeks before it.
    Counts: a week without incidents is 0, but only weeks from `history_from` (the week of
    the organisation's first counted incident) are history. Repair time: only weeks in which
    some incident was resolved have a value, and only those are history."""
    result = []
    for week in weeks:
        history = []
        for back in range(HISTORY_WEEKS, 0, -1):
            earlier = week - back * SEVEN_DAYS
            if measure == COUNT:
                if earlier >= history_from:
                    history.append(values.get(earlier, 0))
            elif earlier in values:
                history.append(values[earlier])
        value = values.get(week, 0 if measure == COUNT and week >= history_from else None)
        base = baseline(history)
        result.append(WeekValue(week, value, base, is_flagged(value, base, measure)))
    return result


@dataclass(frozen=True)
class Subject:
    dimension: str  # "service" or "category"
    key: int
    label: str


@dataclass(frozen=True)
class Anomaly:
    subject: Subject
    measure: str  # COUNT (incidents) or REPAIR (mean repair time, seconds)
    week: datetime.date
    value: float
    baseline: Baseline

    @property
    def last_day(self) -> datetime.date:
        return self.week + 6 * DAY


def whole_weeks(period: kpis.Period) -> list[datetime.date]:
    """The Mondays of the weeks lying wholly inside `period`."""
    monday = period.first + ((7 - period.first.weekday()) % 7) * DAY
    weeks = []
    while monday + 6 * DAY <= period.last:
        weeks.append(monday)
        monday += SEVEN_DAYS
    return weeks


@dataclass
class Weekly:
    """Per subject, per measure: {Monday: value}; and the Monday history starts from."""

    subjects: list[Subject]
    values: dict[tuple[Subject, str], dict[datetime.date, float]]
    weeks: list[datetime.date]
    history_from: datetime.date

    def evaluate(self, subject: Subject, measure: str) -> list[WeekValue]:
        return evaluate(
            self.values.get((subject, measure), {}),
            self.weeks,
            measure=measure,
            history_from=self.history_from,
        )


def _grouped(queryset, key: str, unit_field: str, tz, *, repair: bool):
    """(key, Monday, count, total repair time) rows, grouped in SQL."""
    queryset = queryset.annotate(week=_trunc(WEEK, unit_field, tz))
    if repair:
        queryset = queryset.annotate(duration=kpis.repair_time())
    rows = queryset.values(key, "week").annotate(
        n=Count("pk"), **({"total": Sum("duration")} if repair else {})
    )
    for row in rows:
        if row[key] is not None:
            yield row[key], _day(row["week"], tz), row["n"], row.get("total")


def weekly(incidents: QuerySet[Incident], organization, period: kpis.Period) -> Weekly:
    """Weekly counts (by reported time) and mean repair times (by resolved time) per service
    and per category, for the whole weeks of `period` and the 12 weeks before them: eight
    grouped queries whatever the data."""
    tz = period.tz
    weeks = whole_weeks(period)
    first = (weeks[0] if weeks else period.first) - HISTORY_WEEKS * SEVEN_DAYS
    span = kpis.Period(first, weeks[-1] + 6 * DAY if weeks else period.last, tz)
    reported = kpis.reported_in(incidents, span)
    resolved = kpis.resolved_in(incidents, span)
    affected = Incident.affected_services.through.objects.filter(
        incident=OuterRef("pk"), service=OuterRef("primary_service")
    )
    counts: dict[tuple[str, int], dict] = defaultdict(dict)
    repairs: dict[tuple[str, int], dict] = defaultdict(dict)

    def add(target, dimension, rows):
        for key, week, n, total in rows:
            cell = target[(dimension, key)].get(week, (0, datetime.timedelta()))
            target[(dimension, key)][week] = (
                cell[0] + n,
                cell[1] + (total or datetime.timedelta()),
            )

    with _without_jit():
        earliest = incidents.aggregate(first=Min("reported_at"))["first"]
        for target, queryset, field_name, repair in (
            (counts, reported, "reported_at", False),
            (repairs, resolved, "resolved_at", True),
        ):
            # A service counts an incident it is primary or affected service of (as the
            # incident list's service filter, so the drill-down shows the same incidents):
            # the affected services, plus a primary service not listed among them.
            add(
                target,
                "service",
                _grouped(queryset, "affected_services", field_name, tz, repair=repair),
            )
            add(
                target,
                "service",
                _grouped(
                    queryset.filter(primary_service__isnull=False).exclude(Exists(affected)),
                    "primary_service",
                    field_name,
                    tz,
                    repair=repair,
                ),
            )
            add(
                target,
                "category",
                _grouped(queryset, "category", field_name, tz, repair=repair),
            )
        names = {
            ("service", pk): name
            for pk, name in Service.objects.filter(organization=organization).values_list(
                "pk", "name"
            )
        }
        names |= {
            ("category", pk): name
            for pk, name in Category.objects.filter(organization=organization).values_list(
                "pk", "name"
            )
        }
    subjects = sorted(
        (Subject(dimension, key, name) for (dimension, key), name in names.items()),
        key=lambda s: (s.dimension != "service", s.label.lower()),
    )
    by_key = {(s.dimension, s.key): s for s in subjects}
    values: dict[tuple[Subject, str], dict[datetime.date, float]] = {}
    for (dimension, key), cells in counts.items():
        if (dimension, key) in by_key:
            values[(by_key[(dimension, key)], COUNT)] = {w: n for w, (n, _) in cells.items()}
    for (dimension, key), cells in repairs.items():
        if (dimension, key) in by_key:
            values[(by_key[(dimension, key)], REPAIR)] = {
                w: (total / n).total_seconds() for w, (n, total) in cells.items()
            }
    history_from = bucket_start(WEEK, _day(earliest, tz)) if earliest else span.last + DAY
    return Weekly(subjects, values, weeks, history_from)


def flagged(data: Weekly) -> list[Anomaly]:
    """Every flagged week of `data`, by week, then service before category, then name."""
    found = []
    for subject in data.subjects:
        for measure in (COUNT, REPAIR):
            if (subject, measure) not in data.values:
                continue
            for week in data.evaluate(subject, measure):
                if week.flagged:
                    found.append(Anomaly(subject, measure, week.week, week.value, week.baseline))
    return sorted(found, key=lambda a: (a.week, a.subject.dimension, a.subject.label, a.measure))


def anomalies(incidents: QuerySet[Incident], organization, period: kpis.Period) -> list[Anomaly]:
    """The flagged weeks lying wholly inside `period`, per service and category, for weekly
    incident counts and weekly mean repair time. `incidents`: visible and `kpis.counted()`."""
    return flagged(weekly(incidents, organization, period))
