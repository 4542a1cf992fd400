"""Raw and normalised incident figures for the comparison page: per service tier (per
service), per team (per active member) and per unit of exposure (per 1,000 requests, deploys…).

Like `reporting.kpis`, every function takes the incidents the reader may see already narrowed by
`kpis.counted()`, and runs a fixed number of aggregate queries whatever the data. Definitions:
`reporting.definitions.NORMALISATION`; keep the two in step."""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Avg, Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from incidents.models import Incident
from reporting import kpis
from reporting.models import ExposureFigure
from taxonomy.models import Service
from tenancy.models import Team

TIERS = (1, 2, 3)
TIER_LABELS = {1: "Tier 1 (business-critical)", 2: "Tier 2", 3: "Tier 3 (internal tooling)"}
PER_THOUSAND = Decimal(1000)


def _ratio(numerator, denominator) -> Decimal | None:
    """numerator ÷ denominator, or None (shown "—") when there is nothing to divide by."""
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


@dataclass(frozen=True)
class TierRow:
    tier: int
    label: str
    incidents: int
    services: int
    resolved: int
    mttr: datetime.timedelta | None

    @property
    def per_service(self) -> Decimal | None:
        return _ratio(self.incidents, self.services)


@dataclass(frozen=True)
class TeamRow:
    team_id: int
    name: str
    incidents: int
    size: int

    @property
    def per_member(self) -> Decimal | None:
        return _ratio(self.incidents, self.size)


@dataclass
class ExposureRow:
    """One scope (the organisation, or one service) and unit with figures in the period."""

    service_id: int | None
    label: str
    unit: str
    incidents: int = 0
    exposure: Decimal = Decimal(0)
    weeks: list[datetime.date] = field(default_factory=list)
    missing: list[datetime.date] = field(default_factory=list)

    @property
    def per_thousand(self) -> bool:
        """Per 1,000 units when the period's exposure reaches 1,000; per unit below that."""
        return self.exposure >= PER_THOUSAND

    @property
    def scale_label(self) -> str:
        return f"per 1,000 {self.unit}" if self.per_thousand else f"per {self.unit}"

    @property
    def rate(self) -> Decimal | None:
        """Incidents per 1,000 units (or per unit); None when a week has no figure or the
        exposure is 0."""
        if self.missing or not self.exposure:
            return None
        scale = PER_THOUSAND if self.per_thousand else Decimal(1)
        return Decimal(self.incidents) * scale / self.exposure


@dataclass
class Comparison:
    period: kpis.Period
    filters: kpis.Filters
    volume: int = 0
    tiers: list[TierRow] = field(default_factory=list)
    teams: list[TeamRow] = field(default_factory=list)
    exposure: list[ExposureRow] = field(default_factory=list)


def _in_tier(tier: int) -> Q:
    """Incidents with a service of `tier` as primary or affected service: a subquery, so an
    incident counts once per tier however many of its services are in it."""
    matching = Incident.objects.filter(
        Q(primary_service__tier=tier) | Q(affected_services__tier=tier)
    ).values("pk")
    return Q(pk__in=matching)


def by_tier(incidents: QuerySet[Incident], period: kpis.Period, organization) -> list[TierRow]:
    """Per tier: incidents reported in the period, active services, and MTTR (incidents
    resolved in the period, `kpis.repair_time`). Three queries."""
    counts = kpis.reported_in(incidents, period).aggregate(
        **{f"t{tier}": Count("pk", filter=_in_tier(tier)) for tier in TIERS}
    )
    repairs = (
        kpis.resolved_in(incidents, period)
        .annotate(duration=kpis.repair_time())
        .aggregate(
            **{f"n{tier}": Count("pk", filter=_in_tier(tier)) for tier in TIERS},
            **{f"m{tier}": Avg("duration", filter=_in_tier(tier)) for tier in TIERS},
        )
    )
    services = dict(
        Service.objects.filter(organization=organization, is_active=True)
        .order_by()
        .values("tier")
        .annotate(n=Count("pk"))
        .values_list("tier", "n")
    )
    return [
        TierRow(
            tier=tier,
            label=TIER_LABELS[tier],
            incidents=counts[f"t{tier}"],
            services=services.get(tier, 0),
            resolved=repairs[f"n{tier}"],
            mttr=repairs[f"m{tier}"],
        )
        for tier in TIERS
    ]


def by_team(incidents: QuerySet[Incident], period: kpis.Period, organization) -> list[TeamRow]:
    """Every team: incidents reported in the period with it as owning or involved team, and
    its active members now (user not deactivated, still a member of the organisation). One
    query."""
    inner = kpis.reported_in(incidents, period).filter(
        Q(owning_team=OuterRef("pk")) | Q(involved_teams=OuterRef("pk"))
    )
    count = Subquery(
        inner.values("organization").annotate(n=Count("pk", distinct=True)).values("n")[:1]
    )
    members = Team.members.through.objects.filter(
        team=OuterRef("pk"),
        user__is_active=True,
        user__memberships__organization=OuterRef("organization"),
    )
    size = Subquery(
        members.order_by().values("team").annotate(n=Count("user", distinct=True)).values("n")[:1]
    )
    rows = (
        Team.objects.filter(organization=organization)
        .annotate(count=Coalesce(count, 0), size=Coalesce(size, 0))
        .values_list("pk", "name", "count", "size")
    )
    teams = [TeamRow(*row) for row in rows]
    return sorted(teams, key=lambda row: (-row.incidents, row.name.lower()))


def mondays(period: kpis.Period) -> list[datetime.date]:
    """The Monday of every week that overlaps the period."""
    first = period.first - datetime.timedelta(days=period.first.weekday())
    return [first + datetime.timedelta(weeks=n) for n in range((period.last - first).days // 7 + 1)]


def overlap_days(week: datetime.date, period: kpis.Period) -> int:
    """How many of the week's seven days (Monday `week` … Sunday) fall in the period."""
    start = max(week, period.first)
    end = min(week + datetime.timedelta(days=6), period.last)
    return max((end - start).days + 1, 0)


def by_exposure(
    incidents: QuerySet[Incident], period: kpis.Period, organization, *, volume: int
) -> list[ExposureRow]:
    """Per scope (organisation-wide, or a service) and unit with a figure for a week that
    overlaps the period: the exposure counted pro rata by days (a week half in the period
    counts half), the incidents of the scope (all `volume` counted incidents, or those with
    the service as primary or affected service), and which weeks have no figure. Two queries."""
    weeks = mondays(period)
    figures = (
        ExposureFigure.objects.filter(
            organization=organization, week__gte=weeks[0], week__lte=weeks[-1]
        )
        .order_by()
        .values_list("service_id", "service__name", "unit", "week", "value")
    )
    rows: dict[tuple[int | None, str], ExposureRow] = {}
    for service_id, name, unit, week, value in figures:
        key = (service_id, unit)
        if key not in rows:
            rows[key] = ExposureRow(service_id, name or "Whole organisation", unit)
        row = rows[key]
        row.weeks.append(week)
        row.exposure += value * overlap_days(week, period) / 7
    if not rows:
        return []
    per_service = defaultdict(int)
    service_ids = {service_id for service_id, _ in rows if service_id is not None}
    if service_ids:
        for bar in kpis.by_service(incidents, period, organization):
            per_service[bar.key] = bar.count
    for (service_id, _), row in rows.items():
        row.incidents = volume if service_id is None else per_service[service_id]
        row.missing = [week for week in weeks if week not in set(row.weeks)]
        row.weeks.sort()
    return sorted(
        rows.values(),
        key=lambda row: (row.service_id is not None, row.label.lower(), row.unit),
    )


def comparison(
    *, incidents: QuerySet[Incident], organization, period: kpis.Period, filters: kpis.Filters
) -> Comparison:
    """Every table of the comparison page, for the visible `incidents` of `organization`.
    JIT off for the same reason as `kpis.report`."""
    counted = kpis.counted(incidents, filters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        volume = kpis.reported_in(counted, period).count()
        return Comparison(
            period=period,
            filters=filters,
            volume=volume,
            tiers=by_tier(counted, period, organization),
            teams=by_team(counted, period, organization),
            exposure=by_exposure(counted, period, organization, volume=volume),
        )
