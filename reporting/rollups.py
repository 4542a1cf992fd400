"""Precomputed daily roll-ups of the dashboard's KPIs, so a period at a million incidents reads
a few thousand rows instead of scanning incidents.

What is stored: for every day (in the organisation's time zone) and slice — every incident, or
one severity, category, service (primary or affected) or team (owning or involved) — split by
the metrics' exclusion rule, the sums the KPIs are made of (`Rollup`), and the counts behind
the volume bars (`RollupBar`). Each row counts what happened that day exactly as the KPI
engine (`reporting.kpis`) attributes it: incidents by their reported day, acknowledgements by
the acknowledged day, repairs and post-mortems by the resolved day (incidents still resolved
or closed), SLA timers by the day they were met or breached, status updates by the posted day,
action items by their due date. Durations are kept one by one, so medians stay exact.

Restricted incidents are rolled up apart: a reader who may open all of them reads them from
the roll-ups, any other reader gets the restricted incidents they may open counted live.

Freshness without staleness: database triggers (migration 0003) mark a day dirty when
anything it counts changes. A day is *covered* while it is built and not dirty; the dashboard
reads covered days from the roll-ups and counts every other day of the period live, from the
incidents, with the same SQL the builder uses — so its numbers are always current, and equal
to the engine's on the same data (tests/reporting/test_rollups.py). Celery beat rebuilds
dirty and unbuilt days every minute (`refresh`). A dashboard filtered by more than one of team,
service, severity and category reads the incidents directly (`kpis`), as one without any
built day does.
"""

import datetime
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    DateTimeField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from incidents.models import Incident, SlaTimer, StatusUpdate
from incidents.models.sla import Phase
from incidents.selectors import counted_in_metrics
from postmortems.models import ActionItem
from reporting import kpis
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Organization, Team
from tenancy.scoping import org_scope

ALL, SEVERITY, CATEGORY, SERVICE, TEAM, PRIMARY = range(6)
CHUNK_DAYS = 31

# The sums each row carries, in table order.
SUMS = [
    "volume",
    "reopened",
    "alert",
    "pm_required",
    "pm_published",
    "pm_on_time",
    *(f"sla_{phase}_{verdict}" for phase in Phase.values for verdict in ("met", "breached")),
    "cadence_total",
    "cadence_on_time",
    "ai_due",
    "ai_done",
    "ai_on_time",
]
COLUMNS = ["r_incident", "r_day", "r_counted", "r_at", "ack_us", "repair_us", *SUMS]

# An incident's slices (kinds 0–4) and bars (1–5), from the incident row `i`.
DIMENSIONS = """
    SELECT 0 AS kind, 0 AS value
    UNION ALL SELECT 1, i.severity_id
    UNION ALL SELECT 2, i.category_id
    UNION ALL SELECT 5, i.primary_service_id WHERE i.primary_service_id IS NOT NULL
    UNION ALL SELECT 3, s.id FROM (
        SELECT i.primary_service_id AS id
        UNION SELECT a.service_id FROM incidents_incident_affected_services a
        WHERE a.incident_id = i.id) s WHERE s.id IS NOT NULL
    UNION ALL SELECT 4, t.id FROM (
        SELECT i.owning_team_id AS id
        UNION SELECT b.team_id FROM incidents_incident_involved_teams b
        WHERE b.incident_id = i.id) t WHERE t.id IS NOT NULL
"""


class Microseconds(Func):
    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def _prefixed(q: Q, prefix: str) -> Q:
    """`q` (over Incident) as seen from a row that reaches the incident through `prefix`."""
    copy = Q()
    copy.connector, copy.negated = q.connector, q.negated
    copy.children = [
        _prefixed(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1])
        for child in q.children
    ]
    return copy


def _one(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


# — events: what each day counts, one row per incident, timer, update or action item ——————


@dataclass(frozen=True)
class Part:
    """Incidents and the days to count them on (in `tz`)."""

    incidents: QuerySet[Incident]
    days: tuple[datetime.date, ...]


def _bounds(days, tz):
    start = datetime.datetime.combine(min(days), datetime.time(), tzinfo=tz)
    end = datetime.datetime.combine(
        max(days) + datetime.timedelta(days=1), datetime.time(), tzinfo=tz
    )
    return start, end


def _branch(queryset, *, incident, counted, day, at=None, **metrics) -> tuple[str, list]:
    annotations = {
        "r_incident": incident,
        "r_day": day,
        "r_counted": ExpressionWrapper(counted, output_field=BooleanField()),
        "r_at": at if at is not None else Cast(Value(None), DateTimeField()),
        "ack_us": metrics.pop("ack_us", Cast(Value(None), BigIntegerField())),
        "repair_us": metrics.pop("repair_us", Cast(Value(None), BigIntegerField())),
    }
    for name in SUMS:
        annotations[name] = metrics.pop(name, Value(0, output_field=IntegerField()))
    if metrics:
        raise TypeError(f"unknown roll-up columns: {sorted(metrics)}")
    sql, params = queryset.annotate(**annotations).values(*COLUMNS).query.sql_with_params()
    return f"SELECT {', '.join(COLUMNS)} FROM ({sql}) b", list(params)  # noqa: S608


def _branches(part: Part, tz) -> list[tuple[str, list]]:
    days = list(part.days)
    start, end = _bounds(days, tz)
    incidents = part.incidents.order_by()  # plain Incident querysets (see `totals`, `build_days`)
    ids = incidents.values("pk")
    counted = counted_in_metrics()

    def stamped(queryset, field_name):
        return (
            queryset.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
            .annotate(r_on=TruncDate(field_name, tzinfo=tz))
            .filter(r_on__in=days)
        )

    reported = stamped(incidents, "reported_at")
    acknowledged = stamped(incidents, "acknowledged_at")
    resolved = stamped(incidents, "resolved_at").filter(status__in=kpis.RESOLVED_STATES)
    published = Q(postmortem_decision__required=True, postmortem__published_at__isnull=False)
    met = Q(met_at__isnull=False, breached_at__isnull=True)
    timers = SlaTimer.objects.filter(incident__in=ids).filter(
        (met & Q(met_at__gte=start, met_at__lt=end))
        | Q(breached_at__gte=start, breached_at__lt=end)
    )
    timers = timers.annotate(
        r_on=Case(
            When(breached_at__isnull=False, then=TruncDate("breached_at", tzinfo=tz)),
            default=TruncDate("met_at", tzinfo=tz),
        )
    ).filter(r_on__in=days)
    updates = stamped(
        StatusUpdate.objects.filter(incident__in=ids, late_seconds__isnull=False), "posted_at"
    )
    done = Q(status=ActionItem.Status.DONE)
    items = (
        ActionItem.objects.filter(postmortem__incident__in=ids, due_date__in=days)
        .exclude(status=ActionItem.Status.WONT_DO)
        .annotate(completed_on=TruncDate("completed_at", tzinfo=tz))
    )
    timer_metrics = {}
    for phase in Phase.values:
        timer_metrics[f"sla_{phase}_met"] = _one(Q(phase=phase) & met)
        timer_metrics[f"sla_{phase}_breached"] = _one(Q(phase=phase, breached_at__isnull=False))
    via = "incident__"
    return [
        _branch(
            reported,
            incident=F("pk"),
            counted=counted,
            day=F("r_on"),
            at=F("reported_at"),
            volume=Value(1),
            reopened=_one(Q(reopen_count__gt=0)),
            alert=_one(Q(source=Incident.Source.ALERT)),
        ),
        _branch(
            acknowledged,
            incident=F("pk"),
            counted=counted,
            day=F("r_on"),
            ack_us=Microseconds(F("acknowledged_at") - F("reported_at")),
        ),
        _branch(
            resolved,
            incident=F("pk"),
            counted=counted,
            day=F("r_on"),
            repair_us=Microseconds(kpis.repair_time()),
            pm_required=_one(Q(postmortem_decision__required=True)),
            pm_published=_one(published),
            pm_on_time=_one(
                published
                & (
                    Q(postmortem__review_due_at__isnull=True)
                    | Q(postmortem__published_at__lte=F("postmortem__review_due_at"))
                )
            ),
        ),
        _branch(
            timers,
            incident=F("incident_id"),
            counted=_prefixed(counted, via),
            day=F("r_on"),
            **timer_metrics,
        ),
        _branch(
            updates,
            incident=F("incident_id"),
            counted=_prefixed(counted, via),
            day=F("r_on"),
            cadence_total=Value(1),
            cadence_on_time=_one(Q(late_seconds=0)),
        ),
        _branch(
            items,
            incident=F("postmortem__incident_id"),
            counted=_prefixed(counted, "postmortem__incident__"),
            day=F("due_date"),
            ai_due=Value(1),
            ai_done=_one(done),
            ai_on_time=_one(done & Q(completed_on__lte=F("due_date"))),
        ),
    ]


def _events(parts: list[Part], tz) -> tuple[str, list]:
    sqls, params = [], []
    for part in parts:
        if not part.days:
            continue
        for sql, branch_params in _branches(part, tz):
            sqls.append(sql)
            params += branch_params
    return " UNION ALL ".join(sqls), params


SLICES_SQL = """
WITH ev AS ({events})
SELECT ev.r_day, ev.r_counted, i.is_restricted, d.kind, d.value,
       {sums},
       COUNT(ev.ack_us), COALESCE(SUM(ev.ack_us), 0),
       COALESCE(ARRAY_AGG(ev.ack_us) FILTER (WHERE ev.ack_us IS NOT NULL), '{{}}'),
       COUNT(ev.repair_us), COALESCE(SUM(ev.repair_us), 0),
       COALESCE(ARRAY_AGG(ev.repair_us) FILTER (WHERE ev.repair_us IS NOT NULL), '{{}}')
FROM ev JOIN incidents_incident i ON i.id = ev.r_incident
CROSS JOIN LATERAL ({dimensions}) d
WHERE d.kind < 5 AND d.value IS NOT NULL {slice}
GROUP BY 1, 2, 3, 4, 5
"""
BARS_SQL = """
WITH ev AS ({events})
SELECT ev.r_day, ev.r_counted, i.is_restricted, d.kind, d.value, b.kind, b.value,
       COUNT(*), MIN(ev.r_at), MAX(ev.r_at)
FROM ev JOIN incidents_incident i ON i.id = ev.r_incident
CROSS JOIN LATERAL ({dimensions}) d
CROSS JOIN LATERAL ({dimensions}) b
WHERE ev.volume = 1 AND d.kind < 5 AND d.value IS NOT NULL AND b.kind > 0 {slice}
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
SLICE_COLUMNS = [
    "day",
    "counted",
    "restricted",
    "fkind",
    "fvalue",
    *SUMS,
    "ack_n",
    "ack_sum",
    "ack_all",
    "repair_n",
    "repair_sum",
    "repair_all",
]
BAR_COLUMNS = [
    "day",
    "counted",
    "restricted",
    "fkind",
    "fvalue",
    "bkind",
    "bvalue",
    "count",
    "first_at",
    "last_at",
]


def _sql(template: str, events: str, slice_: tuple[int, int] | None) -> str:
    return template.format(
        events=events,
        sums=", ".join(f"SUM(ev.{name})" for name in SUMS),
        dimensions=DIMENSIONS,
        slice=f"AND d.kind = {int(slice_[0])} AND d.value = {int(slice_[1])}" if slice_ else "",
    )


# — building ————————————————————————————————————————————————————————————————————————————


def build_days(organization: Organization, days: list[datetime.date]) -> None:
    """(Re)build `days` of `organization` in one transaction: their dirty marks go first, so a
    change committed while this runs marks the day dirty again rather than being lost."""
    if not days:
        return
    tz = organization.tzinfo
    with transaction.atomic(), org_scope(organization), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            "DELETE FROM reporting_rollupdirty WHERE organization_id = %s AND day = ANY(%s)",
            [organization.pk, days],
        )
        for table in ("reporting_rollup", "reporting_rollupbar"):
            cursor.execute(
                f"DELETE FROM {table} WHERE organization_id = %s AND day = ANY(%s)",  # noqa: S608
                [organization.pk, days],
            )
        incidents = Incident.objects.filter(organization=organization)
        events, params = _events([Part(incidents, tuple(days))], tz)
        for table, template, columns in (
            ("reporting_rollup", SLICES_SQL, SLICE_COLUMNS),
            ("reporting_rollupbar", BARS_SQL, BAR_COLUMNS),
        ):
            cursor.execute(
                f"INSERT INTO {table} (organization_id, {', '.join(columns)}) "  # noqa: S608
                f"SELECT %s, * FROM ({_sql(template, events, None)}) r",
                [organization.pk, *params],
            )
        cursor.execute(
            "INSERT INTO reporting_rollupday (organization_id, day, built_at) "
            "SELECT %s, d, %s FROM unnest(%s::date[]) d "
            "ON CONFLICT (organization_id, day) DO UPDATE SET built_at = EXCLUDED.built_at",
            [organization.pk, timezone.now(), days],
        )


def stale_days(organization: Organization, limit: int) -> list[datetime.date]:
    """Up to `limit` days to (re)build, most recent first: dirty built days, then unbuilt days
    from the organisation's first incident to today."""
    today = timezone.now().astimezone(organization.tzinfo).date()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT day FROM (
                SELECT DISTINCT day FROM reporting_rollupdirty WHERE organization_id = %(org)s
                UNION
                SELECT d::date FROM generate_series(
                    (SELECT (MIN(reported_at) AT TIME ZONE %(tz)s)::date
                     FROM incidents_incident WHERE organization_id = %(org)s),
                    %(today)s::date, interval '1 day') d
                WHERE NOT EXISTS (SELECT 1 FROM reporting_rollupday r
                                  WHERE r.organization_id = %(org)s AND r.day = d::date)
            ) days WHERE day <= %(today)s ORDER BY day DESC LIMIT %(limit)s
            """,
            {"org": organization.pk, "tz": organization.timezone, "today": today, "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]


def refresh(organization: Organization, *, limit: int = 400) -> int:
    """Rebuild up to `limit` stale days of `organization`, a month per transaction (each
    committed as it is done); skipped (0) while another refresh of the same organisation runs.
    Returns the days built."""
    lock = "SELECT {}(hashtext('reporting.rollups'), %s)"
    with connection.cursor() as cursor:
        cursor.execute(lock.format("pg_try_advisory_lock"), [organization.pk])
        if not cursor.fetchone()[0]:
            return 0
        try:
            with org_scope(organization):  # stale_days reads the organisation's rows
                days = stale_days(organization, limit)
            for start in range(0, len(days), CHUNK_DAYS):
                build_days(organization, sorted(days[start : start + CHUNK_DAYS]))
            return len(days)
        finally:
            cursor.execute(lock.format("pg_advisory_unlock"), [organization.pk])


def refresh_all(*, limit: int = 400) -> int:
    return sum(refresh(org, limit=limit) for org in Organization.objects.order_by("pk"))


# — reading ——————————————————————————————————————————————————————————————————————————————


@dataclass
class Totals:
    """Sums of one `counted` part. Durations: count and total of stored and live ones; the
    live ones also one by one (few), for the median, which `report` takes in SQL over the
    stored arrays and these."""

    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUMS, 0))
    ack_n: int = 0
    ack_sum: int = 0
    repair_n: int = 0
    repair_sum: int = 0
    ack: list[int] = field(default_factory=list)
    repair: list[int] = field(default_factory=list)
    bars: dict[tuple[int, int | None], list] = field(default_factory=dict)

    def add_slice(self, row: dict) -> None:
        for name in (*SUMS, "ack_n", "ack_sum", "repair_n", "repair_sum"):
            if name in SUMS:
                self.sums[name] += row[name]
            else:
                setattr(self, name, getattr(self, name) + row[name])
        self.ack += row.get("ack_all", ())
        self.repair += row.get("repair_all", ())

    def add_bar(self, row: dict) -> None:
        key = (row["bkind"], row["bvalue"])
        bar = self.bars.get(key)
        if bar is None:
            self.bars[key] = [row["count"], row["first_at"], row["last_at"]]
        else:
            bar[0] += row["count"]
            bar[1] = min(bar[1], row["first_at"])
            bar[2] = max(bar[2], row["last_at"])


def _slice(filters: kpis.Filters) -> tuple[int, int] | None:
    """The one slice the filters select, or None when more than one filter is set."""
    chosen = [
        (kind, getattr(filters, name))
        for kind, name in ((SEVERITY, "severity"), (CATEGORY, "category"), (SERVICE, "service"))
        + ((TEAM, "team"),)
        if getattr(filters, name) is not None
    ]
    if len(chosen) > 1:
        return None
    return (chosen[0][0], chosen[0][1].pk) if chosen else (ALL, 0)


def covered_days(organization, period: kpis.Period) -> list[datetime.date]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.day FROM reporting_rollupday r
            WHERE r.organization_id = %(org)s AND r.day BETWEEN %(first)s AND %(last)s
              AND NOT EXISTS (SELECT 1 FROM reporting_rollupdirty d
                              WHERE d.organization_id = %(org)s AND d.day = r.day)
            """,
            {"org": organization.pk, "first": period.first, "last": period.last},
        )
        return [row[0] for row in cursor.fetchall()]


def _rows(cursor, columns) -> list[dict]:
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class Found:
    """What `totals` found: per `counted`, the sums; and where its stored rows are, for the
    medians."""

    parts: dict[bool, Totals]
    where: str
    params: list


STORED_SLICE_COLUMNS = [c for c in SLICE_COLUMNS if c not in ("ack_all", "repair_all")]


def totals(
    *, incidents: QuerySet[Incident], organization, period: kpis.Period, filters: kpis.Filters
) -> Found | None:
    """Per `counted`, the sums of the period for the visible `incidents` — covered days from the
    roll-ups, the rest live — or None when the roll-ups cannot answer (several filters, or no
    day of the period is covered). `incidents` must be what a reader of the organisation may
    see (`incidents.selectors.incident_list`): every unrestricted incident, and the restricted
    ones they may open — the roll-ups hold every unrestricted incident."""
    slice_ = _slice(filters)
    if slice_ is None:
        return None
    covered = covered_days(organization, period)
    if not covered:
        return None
    result = {True: Totals(), False: Totals()}
    every_day = [
        period.first + datetime.timedelta(days=n)
        for n in range((period.last - period.first).days + 1)
    ]
    uncovered = tuple(sorted(set(every_day) - set(covered)))
    # Restricted incidents are rolled up apart (`restricted`). A reader who may open every
    # one of them (admins; the organisation-level executive report) reads them from the
    # roll-ups; any other reader gets the unrestricted roll-ups plus the restricted incidents
    # they may open (few: found by id through a partial index) counted live, on every day.
    # The days the roll-ups do not cover are counted live too.
    visible_restricted = incidents.filter(is_restricted=True).order_by()
    every_restricted = Incident.objects.filter(organization=organization, is_restricted=True)
    sees_all = visible_restricted.count() == every_restricted.count()
    restricted = [] if sees_all else list(visible_restricted.values_list("pk", flat=True))
    parts = []
    if uncovered:
        live = Incident.objects.filter(organization=organization)
        parts.append(Part(live if sees_all else live.filter(is_restricted=False), uncovered))
    if restricted and not sees_all:
        parts.append(Part(Incident.objects.filter(pk__in=restricted), tuple(every_day)))
    events, params = _events(parts, organization.tzinfo)
    stored = "organization_id = %s AND fkind = %s AND fvalue = %s AND day = ANY(%s::date[])"
    if not sees_all:
        stored += " AND NOT restricted"
    stored_params = [organization.pk, *slice_, covered]
    with connection.cursor() as cursor:
        for table, stored_columns, columns, template, add in (
            ("reporting_rollup", STORED_SLICE_COLUMNS, SLICE_COLUMNS, SLICES_SQL, Totals.add_slice),
            ("reporting_rollupbar", BAR_COLUMNS, BAR_COLUMNS, BARS_SQL, Totals.add_bar),
        ):
            # The stored durations stay in the database (their median is taken there).
            cursor.execute(
                f"SELECT {', '.join(stored_columns)} FROM {table} WHERE {stored}",  # noqa: S608
                stored_params,
            )
            for row in _rows(cursor, stored_columns):
                add(result[row["counted"]], row)
            if parts:
                cursor.execute(_sql(template, events, slice_), params)
                for row in _rows(cursor, columns):
                    add(result[row["counted"]], row)
    return Found(result, stored, stored_params)


MEDIANS_SQL = """
SELECT
  (SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY u) FROM (
     SELECT UNNEST(ack_all) AS u FROM reporting_rollup WHERE {where} AND counted = ANY(%s)
     UNION ALL SELECT UNNEST(%s::bigint[])) a),
  (SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY u) FROM (
     SELECT UNNEST(repair_all) AS u FROM reporting_rollup WHERE {where} AND counted = ANY(%s)
     UNION ALL SELECT UNNEST(%s::bigint[])) r)
"""


def _medians(found: Found, counted: list[bool], chosen: Totals) -> tuple:
    """The median acknowledgement and repair times, in microseconds, of the stored rows of
    `counted` and the live durations of `chosen`."""
    with connection.cursor() as cursor:
        cursor.execute(
            MEDIANS_SQL.format(where=found.where),
            [*found.params, counted, chosen.ack, *found.params, counted, chosen.repair],
        )
        return cursor.fetchone()


def _durations(count: int, total: int, median: float | None) -> kpis.Durations:
    if not count:
        return kpis.Durations(0, None, None, None)
    total = datetime.timedelta(microseconds=int(total))
    return kpis.Durations(
        count=count,
        total=total,
        mean=total / count,
        median=datetime.timedelta(microseconds=float(median)),
    )


def _bars(bars: dict, kind: int, labels: dict) -> list[kpis.Bar]:
    found = [
        kpis.Bar(value, labels.get(value, "None"), entry[0])
        for (bar_kind, value), entry in bars.items()
        if bar_kind == kind
    ]
    return sorted(found, key=lambda bar: (-bar.count, bar.label))


def report(
    *, incidents: QuerySet[Incident], organization, period: kpis.Period, filters: kpis.Filters
) -> kpis.Report | None:
    """The dashboard's `kpis.Report` from the roll-ups, or None when they cannot answer."""
    found = totals(incidents=incidents, organization=organization, period=period, filters=filters)
    if found is None:
        return None
    chosen = Totals()
    counted = [True, False] if filters.include_excluded else [True]
    for part in counted:
        source = found.parts[part]
        for name in SUMS:
            chosen.sums[name] += source.sums[name]
        for name in ("ack_n", "ack_sum", "repair_n", "repair_sum"):
            setattr(chosen, name, getattr(chosen, name) + getattr(source, name))
        chosen.ack += source.ack
        chosen.repair += source.repair
        for key, (count, first, last) in source.bars.items():
            chosen.add_bar(
                {
                    "bkind": key[0],
                    "bvalue": key[1],
                    "count": count,
                    "first_at": first,
                    "last_at": last,
                }
            )
    sums = chosen.sums
    ack_median, repair_median = _medians(found, counted, chosen)
    levels = SeverityLevel.objects.filter(organization=organization).order_by("level")
    order = {level.pk: index for index, level in enumerate(levels)}
    severity_names = {level.pk: level.name for level in levels}
    category_names = dict(
        Category.objects.filter(organization=organization).values_list("pk", "name")
    )
    category_names[None] = "No category"
    service_names = dict(
        Service.objects.filter(organization=organization).values_list("pk", "name")
    )
    team_names = dict(Team.objects.filter(organization=organization).values_list("pk", "name"))
    between = [
        kpis.Between(value, service_names.get(value, "None"), entry[0], entry[1], entry[2])
        for (kind, value), entry in chosen.bars.items()
        if kind == PRIMARY and entry[0] >= 2
    ]
    result = kpis.Report(
        period=period,
        filters=filters,
        volume=sums["volume"],
        by_severity=sorted(
            _bars(chosen.bars, SEVERITY, severity_names),
            key=lambda bar: order.get(bar.key, len(order)),
        ),
        by_category=_bars(chosen.bars, CATEGORY, category_names),
        by_service=_bars(chosen.bars, SERVICE, service_names),
        by_team=_bars(chosen.bars, TEAM, team_names),
        mtta=_durations(chosen.ack_n, chosen.ack_sum, ack_median),
        mttr=_durations(chosen.repair_n, chosen.repair_sum, repair_median),
        sla={
            phase: kpis.Ratio(
                sums[f"sla_{phase}_met"], sums[f"sla_{phase}_met"] + sums[f"sla_{phase}_breached"]
            )
            for phase in Phase.values
        },
        cadence=kpis.Ratio(sums["cadence_on_time"], sums["cadence_total"]),
        postmortem_completion=kpis.Ratio(sums["pm_published"], sums["pm_required"]),
        postmortem_timeliness=kpis.Ratio(sums["pm_on_time"], sums["pm_published"]),
        action_items=kpis.Ratio(sums["ai_done"], sums["ai_due"]),
        action_items_on_time=kpis.Ratio(sums["ai_on_time"], sums["ai_done"]),
        reopen_rate=kpis.Ratio(sums["reopened"], sums["volume"]),
        alert_share=kpis.Ratio(sums["alert"], sums["volume"]),
        between=sorted(between, key=lambda b: (b.mean, b.label)),
    )
    if not filters.include_excluded:
        result.excluded = found.parts[False].sums["volume"]
    return result
