"""The KPI engine: aggregate queries over an organisation's incidents for one period.

Every function takes the incidents the reader may see (`incidents.selectors.incident_list`)
already narrowed by `counted()`, and a `Period`; each runs one or two aggregate queries
whatever the number of incidents, and returns the value with its numerator and denominator so
a page can show the arithmetic. The written definitions are in `reporting.definitions`; keep
the two in step.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field, replace

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DurationField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate

from incidents.lifecycle import Status
from incidents.models import ImpactPeriod, Incident, SlaTimer, StatusUpdate
from incidents.models.sla import Phase
from incidents.selectors import counted_in_metrics
from postmortems.models import ActionItem
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Team

RESOLVED_STATES = (Status.RESOLVED, Status.CLOSED)


class Median(Aggregate):
    """PostgreSQL's continuous median (works on intervals as well as numbers)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


@dataclass(frozen=True)
class Period:
    """Whole days `first` … `last` (both included) in the organisation's time zone: the
    half-open instant range [start, end)."""

    first: datetime.date
    last: datetime.date
    tz: zoneinfo.ZoneInfo

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.first, datetime.time(), tzinfo=self.tz)

    @property
    def end(self) -> datetime.datetime:
        following = self.last + datetime.timedelta(days=1)
        return datetime.datetime.combine(following, datetime.time(), tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def q(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.start, f"{field_name}__lt": self.end})


@dataclass(frozen=True)
class Filters:
    """What the dashboard narrows by. Team and service match like the incident list's filters
    (owning or involved team; primary or affected service), so drill-downs count the same."""

    team: Team | None = None
    service: Service | None = None
    severity: SeverityLevel | None = None
    category: Category | None = None
    include_excluded: bool = False


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> float | None:
        return None if self.value is None else round(100 * self.value, 1)


@dataclass(frozen=True)
class Durations:
    """A mean and a median duration over `count` incidents; `total` is the mean's numerator."""

    count: int
    total: datetime.timedelta | None
    mean: datetime.timedelta | None
    median: datetime.timedelta | None


@dataclass(frozen=True)
class Bar:
    key: int | None
    label: str
    count: int


@dataclass(frozen=True)
class Between:
    """Mean time between incidents of one service: (last − first) ÷ (count − 1)."""

    service_id: int
    label: str
    count: int
    first: datetime.datetime
    last: datetime.datetime

    @property
    def mean(self) -> datetime.timedelta:
        return (self.last - self.first) / (self.count - 1)


@dataclass
class Report:
    """Every KPI for one period and set of filters."""

    period: Period
    filters: Filters
    volume: int = 0
    by_severity: list[Bar] = field(default_factory=list)
    by_category: list[Bar] = field(default_factory=list)
    by_service: list[Bar] = field(default_factory=list)
    by_team: list[Bar] = field(default_factory=list)
    mtta: Durations | None = None
    mttr: Durations | None = None
    sla: dict[str, Ratio] = field(default_factory=dict)
    cadence: Ratio | None = None
    postmortem_completion: Ratio | None = None
    postmortem_timeliness: Ratio | None = None
    action_items: Ratio | None = None
    action_items_on_time: Ratio | None = None
    reopen_rate: Ratio | None = None
    alert_share: Ratio | None = None
    between: list[Between] = field(default_factory=list)
    excluded: int = 0


def _matching(field_names: tuple[str, str], value) -> QuerySet[Incident]:
    single, many = field_names
    return Incident.objects.filter(Q(**{single: value}) | Q(**{many: value})).values("pk")


def counted(incidents: QuerySet[Incident], filters: Filters) -> QuerySet[Incident]:
    """`incidents` narrowed by the filters and, unless `include_excluded`, the exclusions."""
    if not filters.include_excluded:
        incidents = incidents.filter(counted_in_metrics())
    if filters.severity is not None:
        incidents = incidents.filter(severity=filters.severity)
    if filters.category is not None:
        incidents = incidents.filter(category=filters.category)
    if filters.service is not None:
        matching = _matching(("primary_service", "affected_services"), filters.service)
        incidents = incidents.filter(pk__in=matching)
    if filters.team is not None:
        incidents = incidents.filter(
            pk__in=_matching(("owning_team", "involved_teams"), filters.team)
        )
    return incidents.order_by()


def reported_in(incidents: QuerySet[Incident], period: Period) -> QuerySet[Incident]:
    return incidents.filter(period.q("reported_at"))


def resolved_in(incidents: QuerySet[Incident], period: Period) -> QuerySet[Incident]:
    """Incidents whose last resolution fell in the period and that are still resolved (a
    reopened incident counts again when it is resolved again)."""
    return incidents.filter(period.q("resolved_at"), status__in=RESOLVED_STATES)


def _durations(queryset: QuerySet, expression) -> Durations:
    row = queryset.annotate(duration=expression).aggregate(
        count=Count("pk"), total=Sum("duration"), mean=Avg("duration"), median=Median("duration")
    )
    return Durations(**row)


def mtta(incidents: QuerySet[Incident], period: Period) -> Durations:
    """Reported → acknowledged, over incidents acknowledged in the period."""
    acknowledged = incidents.filter(period.q("acknowledged_at"))
    return _durations(acknowledged, F("acknowledged_at") - F("reported_at"))


def repair_time():
    """Detection → resolution; for a reopened incident the sum of its impact periods plus the
    last period's end → the final resolution (the quiet time between a resolution and the
    reopen does not count). See definitions.MTTR."""
    periods = ImpactPeriod.objects.filter(incident=OuterRef("pk"), ended_at__isnull=False)
    impaired = Subquery(
        periods.order_by()
        .values("incident")
        .annotate(total=Sum(F("ended_at") - F("started_at")))
        .values("total")[:1],
        output_field=DurationField(),
    )
    last_end = Subquery(
        ImpactPeriod.objects.filter(incident=OuterRef("pk"))
        .order_by("-number")
        .values("ended_at")[:1]
    )
    return Case(
        When(reopen_count=0, then=F("resolved_at") - F("detected_at")),
        default=Coalesce(impaired, Value(datetime.timedelta()))
        + (F("resolved_at") - Coalesce(last_end, F("resolved_at"))),
        output_field=DurationField(),
    )


def mttr(incidents: QuerySet[Incident], period: Period) -> Durations:
    """Repair time over incidents resolved in the period."""
    return _durations(resolved_in(incidents, period), repair_time())


def volume(incidents: QuerySet[Incident], period: Period) -> dict[str, int]:
    """Incidents reported in the period, and how many were reopened or alert-created."""
    return reported_in(incidents, period).aggregate(
        total=Count("pk"),
        reopened=Count("pk", filter=Q(reopen_count__gt=0)),
        alert=Count("pk", filter=Q(source=Incident.Source.ALERT)),
    )


def _grouped(incidents: QuerySet[Incident], period: Period, field_name: str, labels) -> list[Bar]:
    rows = (
        reported_in(incidents, period)
        .values(field_name)
        .annotate(count=Count("pk"))
        .values_list(field_name, "count")
    )
    bars = [Bar(key, labels.get(key, "None"), count) for key, count in rows]
    return sorted(bars, key=lambda bar: (-bar.count, bar.label))


def by_severity(incidents: QuerySet[Incident], period: Period, organization) -> list[Bar]:
    levels = SeverityLevel.objects.filter(organization=organization).order_by("level")
    order = {s.pk: (i, s.name) for i, s in enumerate(levels)}
    bars = _grouped(incidents, period, "severity", {k: v[1] for k, v in order.items()})
    return sorted(bars, key=lambda bar: order.get(bar.key, (len(order), ""))[0])


def by_category(incidents: QuerySet[Incident], period: Period, organization) -> list[Bar]:
    labels = dict(Category.objects.filter(organization=organization).values_list("pk", "name"))
    labels[None] = "No category"
    return _grouped(incidents, period, "category", labels)


def _by_related(incidents, period, model, organization, single: str, many: str) -> list[Bar]:
    """Per row of `model`: incidents reported in the period with it as `single` or among
    `many` — each incident once per row, as the incident list's filter counts."""
    inner = reported_in(incidents, period).filter(
        Q(**{single: OuterRef("pk")}) | Q(**{many: OuterRef("pk")})
    )
    count = Subquery(
        inner.values("organization").annotate(n=Count("pk", distinct=True)).values("n")[:1]
    )
    rows = (
        model.objects.filter(organization=organization)
        .annotate(count=Coalesce(count, 0))
        .filter(count__gt=0)
        .values_list("pk", "name", "count")
    )
    return sorted((Bar(*row) for row in rows), key=lambda bar: (-bar.count, bar.label))


def by_service(incidents: QuerySet[Incident], period: Period, organization) -> list[Bar]:
    return _by_related(
        incidents, period, Service, organization, "primary_service", "affected_services"
    )


def by_team(incidents: QuerySet[Incident], period: Period, organization) -> list[Bar]:
    return _by_related(incidents, period, Team, organization, "owning_team", "involved_teams")


def sla_compliance(incidents: QuerySet[Incident], period: Period) -> dict[str, Ratio]:
    """Per phase: met ÷ (met + breached), of timers met or breached in the period."""
    met = Q(met_at__isnull=False, breached_at__isnull=True) & period.q("met_at")
    breached = Q(breached_at__isnull=False) & period.q("breached_at")
    counts = {}
    for phase in Phase.values:
        counts[f"{phase}_met"] = Count("pk", filter=met & Q(phase=phase))
        counts[f"{phase}_breached"] = Count("pk", filter=breached & Q(phase=phase))
    # Only timers met or breached in the period can count: narrowing to them first (same
    # result) lets the sla_timer_met / sla_timer_breached indexes find them.
    row = (
        SlaTimer.objects.filter(incident__in=incidents.values("pk"))
        .filter(period.q("met_at") | period.q("breached_at"))
        .aggregate(**counts)
    )
    return {
        phase: Ratio(row[f"{phase}_met"], row[f"{phase}_met"] + row[f"{phase}_breached"])
        for phase in Phase.values
    }


def cadence_adherence(incidents: QuerySet[Incident], period: Period) -> Ratio:
    """On-time status updates ÷ status updates that answered a cadence deadline."""
    row = (
        StatusUpdate.objects.filter(incident__in=incidents.values("pk"), late_seconds__isnull=False)
        .filter(period.q("posted_at"))
        .aggregate(total=Count("pk"), on_time=Count("pk", filter=Q(late_seconds=0)))
    )
    return Ratio(row["on_time"], row["total"])


def postmortems(incidents: QuerySet[Incident], period: Period) -> tuple[Ratio, Ratio]:
    """(published ÷ required, published by the review due time ÷ published) over incidents
    resolved in the period that need a post-mortem."""
    published = Q(postmortem__published_at__isnull=False)
    on_time = published & (
        Q(postmortem__review_due_at__isnull=True)
        | Q(postmortem__published_at__lte=F("postmortem__review_due_at"))
    )
    row = (
        resolved_in(incidents, period)
        .filter(postmortem_decision__required=True)
        .aggregate(
            required=Count("pk"),
            published=Count("pk", filter=published),
            on_time=Count("pk", filter=on_time),
        )
    )
    return Ratio(row["published"], row["required"]), Ratio(row["on_time"], row["published"])


def action_items(incidents: QuerySet[Incident], period: Period) -> tuple[Ratio, Ratio]:
    """(done ÷ due in the period, done by the due date ÷ done); "won't do" items left out."""
    done = Q(status=ActionItem.Status.DONE)
    row = (
        ActionItem.objects.filter(postmortem__incident__in=incidents.values("pk"))
        .filter(due_date__gte=period.first, due_date__lte=period.last)
        .exclude(status=ActionItem.Status.WONT_DO)
        .annotate(completed_on=TruncDate("completed_at", tzinfo=period.tz))
        .aggregate(
            due=Count("pk"),
            done=Count("pk", filter=done),
            on_time=Count("pk", filter=done & Q(completed_on__lte=F("due_date"))),
        )
    )
    return Ratio(row["done"], row["due"]), Ratio(row["on_time"], row["done"])


def between_incidents(incidents: QuerySet[Incident], period: Period) -> list[Between]:
    """Per primary service with at least two incidents reported in the period."""
    rows = (
        reported_in(incidents, period)
        .filter(primary_service__isnull=False)
        .values("primary_service", "primary_service__name")
        .annotate(count=Count("pk"), first=Min("reported_at"), last=Max("reported_at"))
        .filter(count__gte=2)
        .values_list("primary_service", "primary_service__name", "count", "first", "last")
    )
    return sorted((Between(*row) for row in rows), key=lambda b: (b.mean, b.label))


def report(
    *, incidents: QuerySet[Incident], organization, period: Period, filters: Filters
) -> Report:
    """Every KPI of the dashboard for the visible `incidents` of `organization`.

    In one transaction with PostgreSQL's JIT off: the visibility subquery inflates the plans'
    estimated costs past the JIT thresholds, and compiling took 0.1–0.6 s per query at 1 M
    incidents, more than the queries themselves (bench/README.md, B-dash)."""
    from reporting import rollups

    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:  # one snapshot: roll-ups, dirty marks and live counts agree
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SET LOCAL jit = off")
        found = rollups.report(
            incidents=incidents, organization=organization, period=period, filters=filters
        )
        if found is not None:
            return found
        return _report(
            incidents=incidents, organization=organization, period=period, filters=filters
        )


def _report(
    *, incidents: QuerySet[Incident], organization, period: Period, filters: Filters
) -> Report:
    base = counted(incidents, filters)
    totals = volume(base, period)
    completion, timeliness = postmortems(base, period)
    done, on_time = action_items(base, period)
    result = Report(
        period=period,
        filters=filters,
        volume=totals["total"],
        by_severity=by_severity(base, period, organization),
        by_category=by_category(base, period, organization),
        by_service=by_service(base, period, organization),
        by_team=by_team(base, period, organization),
        mtta=mtta(base, period),
        mttr=mttr(base, period),
        sla=sla_compliance(base, period),
        cadence=cadence_adherence(base, period),
        postmortem_completion=completion,
        postmortem_timeliness=timeliness,
        action_items=done,
        action_items_on_time=on_time,
        reopen_rate=Ratio(totals["reopened"], totals["total"]),
        alert_share=Ratio(totals["alert"], totals["total"]),
        between=between_incidents(base, period),
    )
    if not filters.include_excluded:
        everything = counted(incidents, replace(filters, include_excluded=True))
        result.excluded = reported_in(everything, period).count() - result.volume
    return result
