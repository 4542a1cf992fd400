"""Reads for the integrations pages: the source list, a source's health, maintenance windows
by state, and "try this rule" — a replay of the last 7 days of stored alerts through an
unsaved correlation rule. Every function reads a fixed number of queries, whatever the number
of rows, and filters by the organisation explicitly (subqueries included)."""

import bisect
import datetime
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.models import Incident
from incidents.selectors import visibility_filter
from integrations.ingest import rule_for
from integrations.models import (
    Alert,
    AlertGroup,
    AlertSource,
    CorrelationRule,
    MaintenanceWindow,
    OutboundCall,
    RawPayload,
)
from tenancy.models import Membership, Organization, User

DAY = datetime.timedelta(hours=24)


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression): the
    interpolated percentile, computed by the database (works on intervals)."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


# — the source list ———————————————————————————————————————————————————————————————————


def source_list(*, organization: Organization, now=None) -> QuerySet[AlertSource]:
    """Every source with its last payload time and its alert and payload volume over the last
    24 h — one query (correlated subqueries on the (source, received_at) indexes)."""
    since = (now or timezone.now()) - DAY
    last = (
        RawPayload.objects.filter(organization=organization, source=OuterRef("pk"))
        .order_by("-received_at")
        .values("received_at")[:1]
    )

    def volume(model):
        return (
            model.objects.filter(
                organization=organization, source=OuterRef("pk"), received_at__gte=since
            )
            .order_by()
            .values("source")
            .annotate(n=Count("pk"))
            .values("n")
        )

    return (
        AlertSource.objects.filter(organization=organization)
        .select_related("default_service")
        .annotate(
            last_received=Subquery(last),
            alerts_24h=Coalesce(Subquery(volume(Alert), output_field=IntegerField()), 0),
            payloads_24h=Coalesce(Subquery(volume(RawPayload), output_field=IntegerField()), 0),
        )
        .order_by("name")
    )


def heartbeat_due(source: AlertSource) -> datetime.datetime | None:
    """When the next ping is due (counted from the last one, or from the source's creation),
    or None for a source without a heartbeat."""
    if not source.heartbeat_minutes:
        return None
    last = source.last_heartbeat_at or source.created_at
    return last + datetime.timedelta(minutes=source.heartbeat_minutes)


# — a source's health —————————————————————————————————————————————————————————————————


@dataclass
class SourceHealth:
    since: datetime.datetime
    last_received: datetime.datetime | None
    payloads_24h: int
    rejected_24h: int
    alerts_24h: int
    linked_24h: int
    latency_p50: datetime.timedelta | None
    latency_p95: datetime.timedelta | None
    rejected_payloads: list[RawPayload]
    groups: list[AlertGroup]
    outbound: list[OutboundCall]
    outbound_failed: int
    outbound_pending: int
    heartbeat_due: datetime.datetime | None
    heartbeat_overdue: bool


def _visible_incident(*, user: User, membership: Membership | None) -> Exists:
    """Whether the row's incident may be shown to this reader (restricted incidents only to
    admins and people granted access)."""
    return Exists(
        Incident.objects.filter(pk=OuterRef("incident_id")).filter(
            visibility_filter(user=user, membership=membership)
        )
    )


def source_health(
    *,
    organization: Organization,
    source: AlertSource,
    user: User,
    membership: Membership | None,
    now=None,
    recent: int = 15,
) -> SourceHealth:
    """What the health page shows, in six queries whatever the volume: payload figures,
    alert figures with the alert-to-incident latency percentiles (incident_linked_at −
    received_at, percentile_cont in SQL, over alerts received in the last 24 h that were
    linked to an incident), the latest rejected payloads, alert groups and outbound calls,
    and the outbound totals."""
    now = now or timezone.now()
    since = now - DAY
    payloads = RawPayload.objects.filter(organization=organization, source=source).aggregate(
        last=Max("received_at"),
        total=Count("pk", filter=Q(received_at__gte=since)),
        rejected=Count(
            "pk",
            filter=Q(
                received_at__gte=since,
                status__in=[RawPayload.Status.REJECTED, RawPayload.Status.FAILED],
            ),
        ),
    )
    linked = Q(incident_linked_at__isnull=False)
    lag = F("incident_linked_at") - F("received_at")
    alerts = Alert.objects.filter(
        organization=organization, source=source, received_at__gte=since
    ).aggregate(
        total=Count("pk"),
        linked=Count("pk", filter=linked),
        p50=PercentileCont(lag, 0.5, filter=linked),
        p95=PercentileCont(lag, 0.95, filter=linked),
    )
    rejected_payloads = list(
        RawPayload.objects.filter(
            organization=organization,
            source=source,
            status__in=[RawPayload.Status.REJECTED, RawPayload.Status.FAILED],
        )
        .only("received_at", "status", "error", "content_type")
        .order_by("-received_at")[:10]
    )
    visible = _visible_incident(user=user, membership=membership)
    groups = list(
        AlertGroup.objects.filter(organization=organization, source=source)
        .select_related("incident__severity")
        .annotate(incident_visible=visible)
        .order_by("-last_seen")[:recent]
    )
    outbound = list(
        OutboundCall.objects.filter(organization=organization, source=source)
        .select_related("incident")
        .defer("payload", "response", "incident__description")
        .annotate(incident_visible=visible)
        .order_by("-created_at")[:recent]
    )
    outbound_totals = OutboundCall.objects.filter(
        organization=organization, source=source
    ).aggregate(
        failed=Count("pk", filter=Q(status=OutboundCall.Status.FAILED)),
        pending=Count("pk", filter=Q(status=OutboundCall.Status.PENDING)),
    )
    due = heartbeat_due(source)
    return SourceHealth(
        since=since,
        last_received=payloads["last"],
        payloads_24h=payloads["total"],
        rejected_24h=payloads["rejected"],
        alerts_24h=alerts["total"],
        linked_24h=alerts["linked"],
        latency_p50=alerts["p50"],
        latency_p95=alerts["p95"],
        rejected_payloads=rejected_payloads,
        groups=groups,
        outbound=outbound,
        outbound_failed=outbound_totals["failed"],
        outbound_pending=outbound_totals["pending"],
        heartbeat_due=due,
        heartbeat_overdue=bool(due and due < now and source.is_enabled),
    )


# — correlation rules —————————————————————————————————————————————————————————————————


def rule_list(*, organization: Organization) -> QuerySet[CorrelationRule]:
    """The rules in the order ingestion tries them."""
    return (
        CorrelationRule.objects.filter(organization=organization)
        .select_related("source", "set_severity", "set_category", "set_service", "set_team")
        .order_by("position", "pk")
    )


TRY_DAYS = 7
TRY_LIMIT = 10_000


@dataclass
class _Episode:
    """What ingestion makes of one source's fingerprint while it fires: an alert group."""

    source_id: int
    fingerprint: str
    title: str
    labels: dict
    first_seen: datetime.datetime
    times: list[datetime.datetime] = field(default_factory=list)
    ended_at: datetime.datetime | None = None
    suppressed: bool = False


@dataclass
class TryResult:
    since: datetime.datetime
    scanned: int
    truncated: bool
    action: str
    matched_alerts: int = 0
    matched_groups: int = 0
    taken_earlier: int = 0
    earlier_rules: list[str] = field(default_factory=list)
    suppressed: int = 0
    held_back: int = 0
    incidents: int = 0
    examples: list[str] = field(default_factory=list)


def _episodes(rows) -> list[_Episode]:
    """Replay alerts (oldest first) as ingestion groups them: a firing alert joins the open
    group of its source and fingerprint or opens one; a resolve closes it."""
    open_: dict[tuple[int, str], _Episode] = {}
    done: list[_Episode] = []
    for source_id, fingerprint, status, title, labels, received_at, suppressed_by in rows:
        key = (source_id, fingerprint)
        episode = open_.get(key)
        if status == "firing":
            if episode is None:
                episode = open_[key] = _Episode(
                    source_id, fingerprint, title, labels or {}, received_at
                )
            episode.times.append(received_at)
            episode.suppressed = episode.suppressed or suppressed_by is not None
        elif status == "resolved" and episode is not None:
            episode.ended_at = received_at
            done.append(open_.pop(key))
    return done + list(open_.values())


def _passes_gates(rule: CorrelationRule, episode: _Episode, now) -> bool:
    """Whether ingestion (at an alert's arrival, or on a later sweep while the group still
    fires) would have found the threshold and the minimum firing time both met."""
    end = episode.ended_at or now
    earliest = episode.first_seen + datetime.timedelta(seconds=rule.min_firing_seconds or 0)
    if earliest >= end and rule.min_firing_seconds:
        return False  # resolved sooner than the minimum firing time
    if rule.threshold_count <= 1:
        return True
    window = datetime.timedelta(minutes=rule.threshold_window_minutes)
    times = episode.times
    # The count of alerts in [t − window, t] only rises at an arrival, so the best moments
    # are the first allowed one and every arrival after it.
    for moment in [earliest, *(t for t in times if t > earliest)]:
        if moment > end:
            break
        count = bisect.bisect_right(times, moment) - bisect.bisect_left(times, moment - window)
        if count >= rule.threshold_count:
            return True
    return False


def try_rule(
    *, organization: Organization, rule: CorrelationRule, now=None, limit: int = TRY_LIMIT
) -> TryResult:
    """Replay the last 7 days of this organisation's stored alerts (the latest `limit`)
    through `rule` — saved or not; nothing is written — with ingestion's own matcher: how
    many alerts and groups it matches, how many of those an earlier rule would take first,
    and how many incidents its action and gates would have opened. Two queries."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=TRY_DAYS)
    rows = list(
        Alert.objects.filter(organization=organization, received_at__gte=since)
        .order_by("-received_at", "-pk")
        .values_list(
            "source_id",
            "fingerprint",
            "status",
            "title",
            "labels",
            "received_at",
            "suppressed_by_id",
        )[: limit + 1]
    )
    truncated = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    others = CorrelationRule.objects.filter(organization=organization, is_active=True)
    if rule.pk:
        others = others.exclude(pk=rule.pk)
    ordered = sorted([*others, rule], key=lambda r: (r.position, r.pk if r.pk else float("inf")))
    result = TryResult(since=since, scanned=len(rows), truncated=truncated, action=rule.action)
    taken_by: dict[str, int] = {}
    examples: list[str] = []
    for episode in _episodes(rows):
        group = SimpleNamespace(
            title=episode.title, labels=episode.labels, source_id=episode.source_id
        )
        if rule_for(group, [rule]) is None:
            continue
        result.matched_groups += 1
        result.matched_alerts += len(episode.times)
        first = rule_for(group, ordered)
        if first is not rule:
            result.taken_earlier += 1
            taken_by[first.name] = taken_by.get(first.name, 0) + 1
            continue
        if episode.suppressed:
            result.suppressed += 1
            continue
        if rule.action == CorrelationRule.Action.RECORD:
            continue
        if not _passes_gates(rule, episode, now):
            result.held_back += 1
            continue
        result.incidents += 1
        if episode.title not in examples:
            examples.append(episode.title)
    result.earlier_rules = sorted(taken_by, key=lambda name: -taken_by[name])
    result.examples = examples[:5]
    return result


# — maintenance windows ———————————————————————————————————————————————————————————————

_PERIODS = {
    MaintenanceWindow.Recurrence.DAILY: datetime.timedelta(days=1),
    MaintenanceWindow.Recurrence.WEEKLY: datetime.timedelta(days=7),
}


def _occurrence(window: MaintenanceWindow, now) -> tuple[datetime.datetime, datetime.datetime]:
    """The current occurrence of a window if it covers `now`, else the next one (for a
    one-off window in the past: itself)."""
    length = window.ends_at - window.starts_at
    period = _PERIODS.get(window.recurrence)
    if period is None or now < window.starts_at:
        return window.starts_at, window.ends_at
    done = (now - window.starts_at) // period
    start = window.starts_at + done * period
    if now >= start + length:
        start += period
    return start, start + length


def window_list(*, organization: Organization, now=None) -> dict[str, list[MaintenanceWindow]]:
    """Windows by state — active now, upcoming (one-off windows yet to start and every
    repeating window), past — each with `occurrence_start`/`occurrence_end`. One query."""
    now = now or timezone.now()
    states: dict[str, list[MaintenanceWindow]] = {"active": [], "upcoming": [], "past": []}
    windows = MaintenanceWindow.objects.filter(organization=organization).select_related("service")
    for window in windows:
        window.occurrence_start, window.occurrence_end = _occurrence(window, now)
        if window.covers(now):
            states["active"].append(window)
        elif window.recurrence == MaintenanceWindow.Recurrence.NONE and window.ends_at <= now:
            states["past"].append(window)
        else:
            states["upcoming"].append(window)
    states["active"].sort(key=lambda w: w.occurrence_end)
    states["upcoming"].sort(key=lambda w: w.occurrence_start)
    states["past"].sort(key=lambda w: w.ends_at, reverse=True)
    return states
