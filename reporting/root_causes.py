"""Reads behind the root-cause breakdown: counted incidents resolved in a period, by their
root-cause category (blank = "not set"), overall and per month, and the post-mortems behind
them. Aggregate queries only; the caller passes the incidents the reader may see."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth

from incidents.models import Incident
from postmortems.models import PostMortem
from reporting import kpis

NOT_SET = "none"
LABELS = {**dict(Incident.RootCause.choices), NOT_SET: "Not set"}


def resolved(incidents: QuerySet[Incident], period: kpis.Period, filters: kpis.Filters):
    """The counted incidents resolved in the period (as MTTR counts them)."""
    return kpis.resolved_in(kpis.counted(incidents, filters), period)


def by_root_cause(resolved_incidents: QuerySet[Incident]) -> list[kpis.Bar]:
    """One bar per root cause with at least one incident, largest first."""
    rows = (
        resolved_incidents.values("root_cause_category")
        .annotate(count=Count("pk"))
        .values_list("root_cause_category", "count")
    )
    bars = [kpis.Bar(key or NOT_SET, LABELS.get(key or NOT_SET, key), n) for key, n in rows]
    return sorted(bars, key=lambda bar: (-bar.count, bar.label))


@dataclass(frozen=True)
class Month:
    """One month of the period (cut to the period's first and last day) and its counts."""

    first: datetime.date
    last: datetime.date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def months_of(period: kpis.Period) -> list[tuple[datetime.date, datetime.date]]:
    """(first, last) day of each calendar month the period touches, cut to the period."""
    spans = []
    start = period.first
    while start <= period.last:
        following = (start.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        last = min(following - datetime.timedelta(days=1), period.last)
        spans.append((start, last))
        start = following
    return spans


def by_month(resolved_incidents: QuerySet[Incident], period: kpis.Period) -> list[Month]:
    """Per calendar month of the period (in the organisation's time zone, empty months
    included): the count per root cause."""
    rows = (
        resolved_incidents.annotate(month=TruncMonth("resolved_at", tzinfo=period.tz))
        .values("month", "root_cause_category")
        .annotate(count=Count("pk"))
        .values_list("month", "root_cause_category", "count")
    )
    counts: dict[tuple[int, int], dict[str, int]] = {}
    for month, key, count in rows:
        local = month.astimezone(period.tz)
        counts.setdefault((local.year, local.month), {})[key or NOT_SET] = count
    return [
        Month(first, last, counts.get((first.year, first.month), {}))
        for first, last in months_of(period)
    ]


def postmortems_behind(resolved_incidents: QuerySet[Incident]) -> QuerySet[PostMortem]:
    """The post-mortems of those incidents, by root cause then latest resolution first."""
    return (
        PostMortem.objects.filter(incident__in=resolved_incidents.values("pk"))
        .select_related("incident")
        .order_by("incident__root_cause_category", "-incident__resolved_at", "pk")
    )
