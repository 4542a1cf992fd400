"""Alert ingestion: authenticate, store the raw payload, normalise, suppress, dedup, correlate,
open or attach incidents, sync resolves. Nothing here needs Redis."""

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import services as incident_services
from incidents.lifecycle import OPEN_STATES
from incidents.models import Incident, TimelineEvent
from integrations.models import (
    Alert,
    AlertGroup,
    AlertSource,
    CorrelationRule,
    MaintenanceWindow,
    RawPayload,
    SignatureSeen,
    hash_secret,
)
from integrations.normalized import NormalizedAlert, PayloadError
from taxonomy.models import OrgSettings, SeverityLevel
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_TOLERANCE_SECONDS = 300
SEVERITY_WORDS = {
    1: {"critical", "crit", "p1", "sev1", "sev-1", "fatal", "emergency", "alert", "page"},
    2: {"error", "high", "p2", "sev2", "sev-2", "major"},
    3: {"warning", "warn", "medium", "p3", "sev3", "sev-3", "minor"},
    4: {"info", "low", "p4", "p5", "sev4", "sev-4", "debug", "ok"},
}


class IngestError(Exception):
    """Refused with an HTTP status and a message safe to show the sender."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


# — per-process caches ————————————————————————————————————————————————————————————————


CACHE_SECONDS = 5.0


class TtlCache:
    """What every post would otherwise read again: sources by public id, an organisation's
    maintenance windows and correlation rules. Per process, so nothing here needs Redis.
    Saving or deleting a row clears its entry in this process at once (signals, see
    IntegrationsConfig.ready); other processes see the change within CACHE_SECONDS
    (docs/alerts.md says so)."""

    def __init__(self, loader, seconds: float = CACHE_SECONDS):
        self.loader = loader
        self.seconds = seconds
        self.lock = threading.Lock()
        self.entries: dict = {}

    def get(self, key):
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = self.loader(key)
        with self.lock:
            if len(self.entries) > 10_000:
                self.entries.clear()
            self.entries[key] = (now + self.seconds, value)
        return value

    def forget(self, key=None) -> None:
        with self.lock:
            if key is None:
                self.entries.clear()
            else:
                self.entries.pop(key, None)


def _load_source(public_id: str) -> AlertSource | None:
    with scopes_disabled():  # the public id is how a sender finds its org
        return (
            AlertSource.objects.select_related(
                "organization", "default_service", "default_category", "default_team"
            )
            .filter(public_id=public_id, is_enabled=True)
            .first()
        )


def _load_windows(organization_id: int) -> list:
    with org_scope(organization_id):
        return list(MaintenanceWindow.objects.filter(is_active=True).select_related("service"))


def _load_rules(organization_id: int) -> list:
    with org_scope(organization_id):
        return list(
            CorrelationRule.objects.filter(is_active=True).select_related(
                "source", "set_severity", "set_category", "set_service", "set_team"
            )
        )


SOURCES = TtlCache(_load_source)
WINDOWS = TtlCache(_load_windows)
RULES = TtlCache(_load_rules)


def forget_cached(sender, instance, **kwargs) -> None:
    """post_save / post_delete receiver: drop what this process cached about the row."""
    if isinstance(instance, AlertSource):
        SOURCES.forget(instance.public_id)
    elif isinstance(instance, MaintenanceWindow):
        WINDOWS.forget(instance.organization_id)
    elif isinstance(instance, CorrelationRule):
        RULES.forget(instance.organization_id)


# — authentication ——————————————————————————————————————————————————————————————————————


def source_for(public_id: str) -> AlertSource:
    """The enabled source with this public id, or 404 — missing and disabled look alike."""
    source = SOURCES.get(public_id)
    if source is None:
        raise IngestError(404, "Unknown alert source.")
    return source


def check_secret(
    source: AlertSource,
    *,
    bearer: str,
    path_secret: str,
    body_secret: str,
    previous: bool = True,
) -> None:
    """The current secret, or (previous=True) the one a rotation keeps working for a while.
    The webhook passes previous=False for a cached row and asks again with a fresh one, so an
    overlap ended early elsewhere ends here too."""
    if path_secret and not source.secret_in_url:
        raise IngestError(401, "This source does not accept its secret in the URL.")
    candidates = [bearer, path_secret, body_secret if source.kind == "pagerduty" else ""]
    for candidate in candidates:
        if candidate and hmac.compare_digest(hash_secret(candidate), source.secret_hash):
            return
    if previous and any(c and source.secret_matches(c) for c in candidates):
        return
    raise IngestError(401, "Missing or wrong secret.")


def _parse_signature(header: str) -> tuple[int, list[str]]:
    stamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                stamp = int(value)
            except ValueError:
                break
        elif key == "v1" and value:
            signatures.append(value.lower())
    if stamp is None or not signatures:
        raise IngestError(401, "X-Vigil-Signature must look like t=<unix seconds>,v1=<hex>.")
    return stamp, signatures


def check_signature(
    source: AlertSource, *, header: str, body: bytes, now=None, previous: bool = True
) -> str | None:
    """HMAC-SHA256 of "<t>.<raw body>" with the source's secret (or the previous one while it is
    rotated); several v1= values allowed; ±300 s. Returns the signature that matched (None when
    the source signs nothing), which record_signature then accepts once — in the transaction
    that stores the payload, so a post the database did not keep (an outage between the two)
    can be retried with the same signature."""
    if not source.hmac_secret:
        return None
    if not header:
        raise IngestError(401, "This source requires an X-Vigil-Signature header.")
    stamp, given = _parse_signature(header)
    now = now or timezone.now()
    if abs(now.timestamp() - stamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise IngestError(401, "Signature timestamp is more than 300 s away from now.")
    message = f"{stamp}.".encode() + body
    keys = [source.hmac_secret]
    if (
        previous
        and source.previous_hmac_secret
        and source.previous_secret_expires_at
        and source.previous_secret_expires_at > now
    ):
        keys.append(source.previous_hmac_secret)  # the rotation's overlap, as for the bearer
    expected = [hmac.new(k.encode(), message, hashlib.sha256).hexdigest() for k in keys]
    matched = next((g for g in given for e in expected if hmac.compare_digest(g, e)), None)
    if matched is None:
        raise IngestError(401, "Signature does not match.")
    return matched


def record_signature(source: AlertSource, signature: str | None, *, now=None) -> None:
    """A signature is accepted once: a replay is refused with 401."""
    if not signature:
        return
    try:
        with transaction.atomic():
            SignatureSeen.objects.create(
                organization_id=source.organization_id,
                source=source,
                signature=signature,
                seen_at=now or timezone.now(),
            )
    except IntegrityError:
        raise IngestError(401, "This signature was used already (replay refused).") from None


# — rate limiting (in process: ingestion must not depend on Redis) ———————————————————


class _Window:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[tuple, int] = {}

    def hit(self, key, limit: int, now: float) -> int | None:
        """None when allowed, else seconds until the next minute starts."""
        minute = int(now // 60)
        with self.lock:
            if len(self.counts) > 10_000:
                self.counts = {k: v for k, v in self.counts.items() if k[-1] == minute}
            count = self.counts.get((*key, minute), 0) + 1
            self.counts[(*key, minute)] = count
        if count > limit:
            return 60 - int(now % 60) or 1
        return None


_WINDOW = _Window()
ORG_LIMIT_PER_MINUTE = 20_000


def check_rate(source: AlertSource, now: float | None = None) -> None:
    now = now if now is not None else time.time()
    for key, limit in (
        (("source", source.pk), source.rate_limit_per_minute),
        (("org", source.organization_id), ORG_LIMIT_PER_MINUTE),
    ):
        wait = _WINDOW.hit(key, limit, now)
        if wait is not None:
            raise IngestError(429, f"Rate limit of {limit} posts per minute reached.", wait)


def count_rejection(source: AlertSource) -> None:
    with org_scope(source.organization_id):
        AlertSource.objects.filter(pk=source.pk).update(rejected_count=F("rejected_count") + 1)


# — store and process ——————————————————————————————————————————————————————————————————


def store_raw(*, source: AlertSource, body: bytes, content_type: str) -> RawPayload:
    """Commit exactly what was sent before anything else happens."""
    with org_scope(source.organization_id), transaction.atomic():
        return RawPayload.objects.create(
            organization_id=source.organization_id,
            source=source,
            content_type=content_type[:100],
            body=body.decode("utf-8", "replace"),
        )


@dataclass
class Outcome:
    alerts: int = 0
    groups_new: int = 0
    groups_joined: int = 0
    resolved: int = 0
    suppressed: int = 0
    incidents: list[str] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # groups still without an incident


def parse_json(body: bytes):
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(f"body: not valid JSON ({error})") from None
    except RecursionError:  # nested deeper than the parser goes: not a payload we take
        raise PayloadError("body: nested too deeply") from None


def level_for(word: str) -> int | None:
    word = (word or "").strip().lower()
    return next((level for level, words in SEVERITY_WORDS.items() if word in words), None)


_UPSERT = """
    WITH v AS (
        SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[])
            AS v(fingerprint, title, severity, labels, n)
    ), up AS (
        INSERT INTO integrations_alertgroup
            (organization_id, source_id, fingerprint, status, title, severity, labels,
             first_seen, last_seen, count, is_suppressed, suppressed_reason)
        SELECT %s, %s, v.fingerprint, 'firing', v.title, v.severity, v.labels::jsonb,
               %s, %s, v.n, false, ''
        FROM v ORDER BY v.fingerprint
        ON CONFLICT (organization_id, source_id, fingerprint) WHERE status = 'firing'
        DO UPDATE SET count = integrations_alertgroup.count + EXCLUDED.count,
                      last_seen = EXCLUDED.last_seen
        RETURNING id, fingerprint, (xmax = 0) AS inserted, incident_id, is_suppressed
    )
    SELECT up.id, up.fingerprint, up.inserted, up.incident_id, up.is_suppressed, i.key
    FROM up LEFT JOIN incidents_incident i ON i.id = up.incident_id
"""


@dataclass
class _Upserted:
    id: int
    inserted: bool
    incident_id: int | None
    is_suppressed: bool
    incident_key: str | None


def _upsert_groups(source: AlertSource, alerts: list[NormalizedAlert], now) -> dict:
    """Join the open group of each fingerprint or open one — one INSERT … ON CONFLICT on the
    partial unique index for the whole list, so concurrent identical posts make exactly one
    group. Repeats of a fingerprint within the list count once each; rows are taken in
    fingerprint order, so two batches sharing fingerprints cannot deadlock."""
    merged: dict[str, list] = {}
    for alert in alerts:
        if alert.fingerprint in merged:
            merged[alert.fingerprint][3] += 1
        else:
            merged[alert.fingerprint] = [
                alert.title,
                alert.severity[:30],
                json.dumps(alert.labels),
                1,
            ]
    fingerprints = list(merged)
    columns = list(zip(*merged.values(), strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            [
                fingerprints,
                list(columns[0]),
                list(columns[1]),
                list(columns[2]),
                list(columns[3]),
                source.organization_id,
                source.pk,
                now,
                now,
            ],
        )
        rows = cursor.fetchall()
    return {fp: _Upserted(gid, ins, inc, sup, key) for gid, fp, ins, inc, sup, key in rows}


def _upsert_group(source: AlertSource, alert: NormalizedAlert, now) -> tuple[int, bool]:
    """One alert's group (see _upsert_groups): its id, and whether it was just opened."""
    row = _upsert_groups(source, [alert], now)[alert.fingerprint]
    return row.id, row.inserted


def _window_for(source: AlertSource, alert: NormalizedAlert, windows, now):
    service_id = source.default_service_id
    for window in windows:
        if window.service_id and window.service_id != service_id:
            continue
        if any(alert.labels.get(k) != v for k, v in (window.match_labels or {}).items()):
            continue
        if window.covers(now):
            return window
    return None


def rule_for(group: AlertGroup, rules):
    text = group.title.lower()
    for rule in rules:
        if rule.source_id and rule.source_id != group.source_id:
            continue
        if any(group.labels.get(k) != v for k, v in (rule.match_labels or {}).items()):
            continue
        if rule.match_text and not all(w in text for w in rule.match_text.lower().split()):
            continue
        return rule
    return None


def _open_incident_for_service(organization_id: int, service_id: int | None):
    if not service_id:
        return None
    return (
        Incident.objects.filter(
            organization_id=organization_id, status__in=OPEN_STATES, primary_service_id=service_id
        )
        .order_by("-reported_at")
        .first()
    )


def _link(group: AlertGroup, incident: Incident, now, message: str) -> None:
    group.incident = incident
    group.save(update_fields=["incident"])
    Alert.objects.filter(group=group, incident_linked_at__isnull=True).update(
        incident_linked_at=now
    )
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=TimelineEvent.Kind.ALERT,
        message=message,
        data={"group": group.pk, "fingerprint": group.fingerprint},
    )


def correlate(group: AlertGroup, *, now) -> Incident | None:
    """Decide what an open, unlinked, unsuppressed group does: the first matching rule's
    action, gates and classification; with no rule, open an incident from the source's
    defaults."""
    if group.incident_id or group.is_suppressed or group.status != AlertGroup.Status.FIRING:
        return group.incident
    source = group.source
    # A fingerprint that fires again while its last incident is still open rejoins it.
    previous = (
        AlertGroup.objects.filter(
            source=source, fingerprint=group.fingerprint, incident__status__in=OPEN_STATES
        )
        .exclude(pk=group.pk)
        .select_related("incident")
        .order_by("-last_seen")
        .first()
    )
    if previous is not None:
        _link(group, previous.incident, now, f"Alert fired again: {group.title}")
        return previous.incident
    rule = rule_for(group, RULES.get(group.organization_id))
    if rule is not None and rule.action == CorrelationRule.Action.RECORD:
        return None
    if rule is not None and rule.threshold_count > 1:
        since = now - timezone.timedelta(minutes=rule.threshold_window_minutes)
        recent = Alert.objects.filter(group=group, received_at__gte=since).count()
        if recent < rule.threshold_count:
            return None
    firing_for = (now - group.first_seen).total_seconds()
    if rule is not None and rule.min_firing_seconds and firing_for < rule.min_firing_seconds:
        return None  # sweep_pending looks again later
    service = (rule.set_service if rule and rule.set_service_id else None) or source.default_service
    if rule is not None and rule.action == CorrelationRule.Action.ATTACH:
        incident = _open_incident_for_service(
            group.organization_id, service.pk if service else None
        )
        if incident is not None:
            _link(group, incident, now, f"Alert attached: {group.title}")
            return incident
    levels = {
        s.level: s for s in SeverityLevel.objects.filter(organization_id=group.organization_id)
    }
    severity = (rule.set_severity if rule and rule.set_severity_id else None) or levels.get(
        level_for(group.severity) or max(levels, default=4)
    )
    incident = incident_services.incident_create(
        organization=source.organization,
        actor=None,
        title=group.title,
        description=f"Opened by alert source {source.name} (fingerprint {group.fingerprint}).",
        severity=severity,
        category=(rule.set_category if rule and rule.set_category_id else None)
        or source.default_category,
        primary_service=service,
        owning_team=(rule.set_team if rule and rule.set_team_id else None) or source.default_team,
        source=Incident.Source.ALERT,
        kind=Incident.Kind.TEST if group.labels.get("vigil_test") == "true" else Incident.Kind.REAL,
        labels=group.labels,
    )
    _link(group, incident, now, f"Opened from alert: {group.title} ({source.name})")
    return incident


def _resolve_group(source: AlertSource, alert: NormalizedAlert, now) -> AlertGroup | None:
    group = (
        AlertGroup.objects.select_for_update()
        .filter(source=source, fingerprint=alert.fingerprint, status=AlertGroup.Status.FIRING)
        .first()
    )
    if group is None:
        return None
    group.status = AlertGroup.Status.RESOLVED
    group.resolved_at = now
    group.last_seen = now
    group.save(update_fields=["status", "resolved_at", "last_seen"])
    if group.incident_id:
        _after_group_resolved(group, now)
    return group


def _after_group_resolved(group: AlertGroup, now) -> None:
    incident = Incident.objects.get(pk=group.incident_id)
    still_firing = AlertGroup.objects.filter(incident=incident, status="firing").exists()
    if still_firing:
        return
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=TimelineEvent.Kind.ALERT,
        message="Every alert of this incident has resolved.",
    )
    settings_row = OrgSettings.objects.filter(organization_id=incident.organization_id).first()
    if (
        settings_row
        and settings_row.alerts_resolve_mitigates
        and incident.status == "investigating"
    ):
        try:
            incident_services.incident_transition(
                incident=incident, name="mitigate", actor=None, note="All alerts resolved"
            )
        except Exception as error:  # noqa: BLE001 — say why on the timeline, never fail ingest
            TimelineEvent.objects.create(
                organization_id=incident.organization_id,
                incident=incident,
                kind=TimelineEvent.Kind.ALERT,
                message="Not moved to mitigated: "
                + " ".join(getattr(error, "messages", [str(error)])),
            )


@dataclass
class _Candidate:
    """What rule_for() reads, for an alert that has no group yet."""

    source_id: int
    alert: NormalizedAlert

    @property
    def labels(self):
        return self.alert.labels

    @property
    def title(self):
        return self.alert.title


def _clustered(source, alert: NormalizedAlert, rule, now) -> NormalizedAlert:
    """Alerts whose grouping labels agree join one cluster group while it keeps receiving them
    within the rule's window; after a quiet window the cluster closes and a new one starts."""
    key = "|".join(f"{k}={alert.labels.get(k, '')}" for k in rule.group_by)
    fingerprint = f"cluster:{rule.pk}:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    quiet_since = now - timezone.timedelta(minutes=rule.group_window_minutes)
    AlertGroup.objects.filter(
        source=source, fingerprint=fingerprint, status="firing", last_seen__lt=quiet_since
    ).update(status=AlertGroup.Status.RESOLVED, resolved_at=now)
    title = f"{rule.name}: " + ", ".join(f"{k}={alert.labels.get(k, '—')}" for k in rule.group_by)
    return replace(alert, fingerprint=fingerprint, title=title[:200])


def _flap_guard(source, alert: NormalizedAlert, rule, group_id: int, now) -> None:
    """A fingerprint that keeps resolving and firing again opens nothing new while it flaps."""
    since = now - timezone.timedelta(minutes=rule.flap_window_minutes)
    fired = AlertGroup.objects.filter(
        source=source, fingerprint=alert.fingerprint, first_seen__gte=since
    ).count()
    if fired > rule.flap_max + 1:
        AlertGroup.objects.filter(pk=group_id).update(
            is_suppressed=True, suppressed_reason="flapping"
        )


_INSERT_ALERTS = """
    INSERT INTO integrations_alert
        (organization_id, source_id, raw_id, group_id, fingerprint, status, title, severity,
         labels, annotations, description, links, starts_at, ends_at, received_at,
         processed_at, suppressed_by_id)
    SELECT %s, %s, %s, a.group_id, a.fingerprint, a.status, a.title, a.severity,
           a.labels::jsonb, a.annotations::jsonb, a.description, a.links::jsonb,
           a.starts_at, a.ends_at, %s, %s, a.window_id
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[],
                %s::bigint[])
        AS a(group_id, fingerprint, status, title, severity, labels, annotations,
             description, links, starts_at, ends_at, window_id)
"""


def _insert_alerts(source, raw_id: int, received_at, now, rows: list) -> None:
    """Every alert of the payload in one INSERT (rows: (alert, group_id, window_id))."""
    columns: list[list] = [[] for _ in range(12)]
    for alert, group_id, window_id in rows:
        for column, value in zip(
            columns,
            (
                group_id,
                alert.fingerprint,
                alert.status,
                alert.title,
                alert.severity[:30],
                json.dumps(alert.labels),
                json.dumps(alert.annotations),
                alert.description,
                json.dumps(alert.links),
                alert.starts_at,
                alert.ends_at,
                window_id,
            ),
            strict=True,
        ):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_ALERTS,
            [source.organization_id, source.pk, raw_id, received_at, now, *columns],
        )


def _process(source: AlertSource, raw_id: int, received_at, alerts, now) -> Outcome:
    """Suppress, dedup, correlate and store the alerts of one committed-or-committing payload.
    Firing alerts go to the database in runs (one upsert per run); a resolve or an
    acknowledgement ends the run first, so a payload is applied in the order it was sent."""
    outcome = Outcome()
    windows = WINDOWS.get(source.organization_id)
    rules = RULES.get(source.organization_id)
    rows: list = []  # (alert, group_id, window_id) in the order received
    pending: list = []  # the current run of firing alerts: (index in rows, alert, rule, window)
    opened: dict[int, bool] = {}  # groups that may need an incident: id → just inserted
    keys: list[str] = []

    def flush():
        if not pending:
            return
        upserted = _upsert_groups(source, [alert for _, alert, _, _ in pending], now)
        seen_new: set[int] = set()
        for index, alert, rule, window in pending:
            row = upserted[alert.fingerprint]
            rows[index] = (alert, row.id, window.pk if window else None)
            if row.inserted and row.id not in seen_new:
                seen_new.add(row.id)
                outcome.groups_new += 1
                if rule is not None and rule.flap_max:
                    _flap_guard(source, alert, rule, row.id, now)
            else:
                outcome.groups_joined += 1
            if window is not None:
                AlertGroup.objects.filter(pk=row.id).update(
                    is_suppressed=True, suppressed_reason=f"maintenance: {window.name}"
                )
                outcome.suppressed += 1
            elif row.incident_id is None and not row.is_suppressed:
                opened[row.id] = opened.get(row.id, False) or row.inserted
            elif row.incident_key and row.incident_key not in keys:
                keys.append(row.incident_key)
        pending.clear()

    for normalized in alerts:
        window = _window_for(source, normalized, windows, now) if windows else None
        if normalized.status == "firing":
            rule = rule_for(_Candidate(source.pk, normalized), rules) if rules else None
            if rule is not None and rule.group_by:
                normalized = _clustered(source, normalized, rule, now)
            rows.append(None)
            pending.append((len(rows) - 1, normalized, rule, window))
            continue
        flush()
        if normalized.status == "resolved":
            group = _resolve_group(source, normalized, now)
            group_id = group.pk if group else None
            outcome.resolved += 1
        else:
            # The sender's own acknowledgement: recorded on the open group, opens nothing.
            group_id = (
                AlertGroup.objects.filter(
                    source=source, fingerprint=normalized.fingerprint, status="firing"
                )
                .values_list("pk", flat=True)
                .first()
            )
        rows.append((normalized, group_id, window.pk if window else None))
    flush()
    _insert_alerts(source, raw_id, received_at, now, rows)
    outcome.alerts = len(rows)
    outcome.incidents = keys
    outcome.pending = list(opened)
    return outcome


def _correlate_pending(outcome: Outcome, now) -> None:
    """Open or attach incidents for the groups that have none yet. Each group is locked first
    and skipped when another request holds it: two posts of a new fingerprint racing each
    other make one incident (the first), not two; the sweep looks at anything left."""
    if not outcome.pending:
        return
    groups = (
        AlertGroup.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=outcome.pending)
        .select_related("source", "source__organization", "source__default_service")
    )
    for group in groups:
        incident = correlate(group, now=now)
        if incident is not None and incident.key not in outcome.incidents:
            outcome.incidents.append(incident.key)
    outcome.pending = []


def process(raw: RawPayload, alerts: list[NormalizedAlert], *, now=None) -> Outcome:
    """Process a payload that is already committed (the sweep, the "send test alert"
    button), in one transaction, and mark it processed."""
    now = now or timezone.now()
    with org_scope(raw.organization_id), transaction.atomic():
        outcome = _process(raw.source, raw.pk, raw.received_at, alerts, now)
        _correlate_pending(outcome, now)
        RawPayload.objects.filter(pk=raw.pk).update(
            status=RawPayload.Status.PROCESSED, processed_at=now, alert_count=outcome.alerts
        )
    return outcome


_INSERT_RAW = """
    INSERT INTO integrations_rawpayload
        (organization_id, source_id, received_at, content_type, body, status, error,
         alert_count, processed_at)
    VALUES (%s, %s, %s, %s, %s, 'processed', '', %s, %s)
    RETURNING id
"""


def receive(
    source: AlertSource,
    *,
    body: bytes,
    content_type: str,
    alerts: list[NormalizedAlert],
    signature: str | None = None,
) -> tuple[int, Outcome | None]:
    """The webhook's path. First transaction: the raw payload, the alerts and their groups,
    one commit — processing runs in a savepoint, and when it fails the raw payload is still
    committed (as `received`, for sweep_pending), so the sender's 202 always means "stored"
    and nothing is half-written. Second transaction: incidents for new groups — kept out of
    the first so that a post racing this one for the same new fingerprint waits for a short
    transaction, not for an incident's creation; if it fails, the groups stay unlinked and
    sweep_pending opens their incidents. The request's signature is recorded (replay refused,
    IngestError 401) in the first transaction. Returns (payload id, outcome or None)."""
    now = timezone.now()
    with org_scope(source.organization_id):
        with transaction.atomic():
            record_signature(source, signature, now=now)
            with connection.cursor() as cursor:
                cursor.execute(
                    _INSERT_RAW,
                    [
                        source.organization_id,
                        source.pk,
                        now,
                        content_type[:100],
                        body.decode("utf-8", "replace"),
                        len(alerts),
                        now,
                    ],
                )
                raw_id = cursor.fetchone()[0]
            try:
                with transaction.atomic():
                    outcome = _process(source, raw_id, now, alerts, now)
            except Exception:  # noqa: BLE001 — stored is stored: the sweep retries the rest
                log.exception("processing payload %s failed; it stays queued", raw_id)
                RawPayload.objects.filter(pk=raw_id).update(
                    status=RawPayload.Status.RECEIVED, processed_at=None, alert_count=0
                )
                return raw_id, None
        try:
            with transaction.atomic():
                _correlate_pending(outcome, now)
        except Exception:  # noqa: BLE001 — committed already: answer 202, the sweep finishes
            log.exception("opening incidents for payload %s failed; the sweep retries", raw_id)
    return raw_id, outcome


def sweep_pending(*, now=None, limit: int = 200) -> dict:
    """The safety net: groups a gate held back (minimum firing time, threshold) get another
    look, and payloads whose processing failed after they were committed are processed again.
    Cross-tenant by design; each row is handled in its own organisation's scope."""
    from django_scopes import scopes_disabled

    from integrations.adapters import normalize

    now = now or timezone.now()
    counts = {"groups": 0, "payloads": 0}
    with scopes_disabled():
        waiting = list(
            AlertGroup.objects.filter(
                status="firing", incident__isnull=True, is_suppressed=False
            ).values_list("pk", "organization_id")[:limit]
        )
        stuck = list(
            RawPayload.objects.filter(
                status=RawPayload.Status.RECEIVED,
                received_at__lte=now - timezone.timedelta(minutes=1),
            ).values_list("pk", "organization_id")[:limit]
        )
    for group_id, org_id in waiting:
        with org_scope(org_id), transaction.atomic():
            group = (
                AlertGroup.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=group_id, incident__isnull=True)
                .select_related("source", "source__organization", "source__default_service")
                .first()
            )
            if group is not None and correlate(group, now=now) is not None:
                counts["groups"] += 1
    for raw_id, org_id in stuck:
        with org_scope(org_id):
            raw = RawPayload.objects.select_related("source").filter(pk=raw_id).first()
            if raw is None or raw.status != RawPayload.Status.RECEIVED:
                continue
            try:
                process(raw, normalize(raw.source.kind, parse_json(raw.body.encode())), now=now)
                counts["payloads"] += 1
            except PayloadError as error:
                RawPayload.objects.filter(pk=raw.pk).update(
                    status=RawPayload.Status.FAILED, error=str(error)[:500]
                )
    return counts


HEARTBEAT_PREFIX = "heartbeat:"


def check_heartbeats(*, now=None) -> int:
    """Open "Monitoring source X silent" for every heartbeat that is overdue (once: the open
    group of its fingerprint takes the repeats)."""
    from django_scopes import scopes_disabled

    now = now or timezone.now()
    opened = 0
    with scopes_disabled():
        sources = list(
            AlertSource.objects.filter(
                is_enabled=True, heartbeat_minutes__isnull=False
            ).select_related("organization", "default_service")
        )
    for source in sources:
        last = source.last_heartbeat_at or source.created_at
        if now - last < timezone.timedelta(minutes=source.heartbeat_minutes):
            continue
        silent = NormalizedAlert(
            fingerprint=f"{HEARTBEAT_PREFIX}{source.pk}",
            status="firing",
            title=f"Monitoring source {source.name} silent",
            severity="error",
            labels={"vigil_heartbeat": source.name},
            description=f"No heartbeat since {last:%Y-%m-%d %H:%M %Z}; expected every "
            f"{source.heartbeat_minutes} min.",
        )
        with org_scope(source.organization_id), transaction.atomic():
            if AlertGroup.objects.filter(
                source=source, fingerprint=silent.fingerprint, status="firing"
            ).exists():
                continue
            group_id, _ = _upsert_group(source, silent, now)
            group = AlertGroup.objects.select_related(
                "source", "source__organization", "source__default_service"
            ).get(pk=group_id)
            correlate(group, now=now)
            opened += 1
    return opened


def heartbeat_received(source: AlertSource, *, now=None) -> None:
    """A ping: remember it, and resolve the "silent" group if one is open."""
    now = now or timezone.now()
    with org_scope(source.organization_id), transaction.atomic():
        AlertSource.objects.filter(pk=source.pk).update(last_heartbeat_at=now)
        _resolve_group(
            source,
            NormalizedAlert(
                fingerprint=f"{HEARTBEAT_PREFIX}{source.pk}", status="resolved", title="heartbeat"
            ),
            now,
        )
