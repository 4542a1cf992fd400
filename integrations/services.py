"""Every write the integrations pages make: alert sources (create, edit, enable, rotate their
secrets, send a test alert), correlation rules and maintenance windows.

Each function takes the organisation and the acting membership explicitly (keyword-only),
refuses an actor without `manage_integrations` in that organisation, runs in one transaction
inside the organisation's scope and raises a ValidationError with per-field messages a form
can show. Secrets are generated here and returned once (`IssuedSecrets`); only the bearer
secret's hash is stored."""

import datetime
import json
import secrets
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from integrations import ingest
from integrations.adapters import normalize
from integrations.models import (
    Alert,
    AlertGroup,
    AlertSource,
    CorrelationRule,
    MaintenanceWindow,
)
from integrations.normalized import NormalizedAlert, PayloadError
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import AuditEntry, Membership, Organization, Team
from tenancy.roles import Capability
from tenancy.scoping import org_scope
from tenancy.writes import org_write, own, require_capability

# Overlaps an admin may choose when rotating a bearer secret.
ROTATION_OVERLAPS = {
    0: "None — the old secret stops working now",
    3600: "1 hour",
    86400: "24 hours",
}

# — guards and helpers ————————————————————————————————————————————————————————————————


_REFUSAL = "Your role may not manage integrations."
_write = org_write(Capability.MANAGE_INTEGRATIONS, _REFUSAL)
_own = own


def _require(actor: Membership | None, organization: Organization) -> None:
    require_capability(actor, organization, Capability.MANAGE_INTEGRATIONS, _REFUSAL)


def _save(instance: models.Model) -> models.Model:
    """full_clean() (field validators, clean(), constraints) then save; a constraint broken
    by a concurrent write becomes a ValidationError, not a 500."""
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError(
            "Someone else saved a conflicting change at the same time: reload and try again."
        ) from None
    return instance


def _required_text(value: str, field_name: str, message: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationError({field_name: message})
    return value


def _audit_secret_change(source: AlertSource, what: str) -> None:
    """Secret fields are kept out of the audit trail; that one was replaced is recorded."""
    AuditEntry.objects.log_create(
        source,
        action=AuditEntry.Action.UPDATE,
        changes={"secret": ["(not recorded)", what]},
    )


def new_bearer_secret() -> str:
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    return secrets.token_hex(32)


@dataclass
class IssuedSecrets:
    """Secrets shown exactly once, on the page that answers the write that made them."""

    bearer: str = ""
    hmac: str = ""
    outbound: str = ""
    previous_valid_until: datetime.datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.bearer or self.hmac or self.outbound)


# — alert sources —————————————————————————————————————————————————————————————————————


def _source_fields(
    source: AlertSource,
    *,
    name: str,
    default_service: Service | None,
    default_team: Team | None,
    default_category: Category | None,
    secret_in_url: bool,
    rate_limit_per_minute: int,
    alertmanager_api_url: str,
    outbound_webhook_url: str,
    heartbeat_minutes: int | None,
) -> None:
    source.name = name
    source.default_service = default_service
    source.default_team = default_team
    source.default_category = default_category
    source.secret_in_url = secret_in_url
    source.rate_limit_per_minute = rate_limit_per_minute
    source.alertmanager_api_url = (alertmanager_api_url or "").strip()
    source.outbound_webhook_url = (outbound_webhook_url or "").strip()
    source.heartbeat_minutes = heartbeat_minutes or None


def _refuse_duplicate_name(organization, name: str, exclude: AlertSource | None) -> None:
    others = AlertSource.objects.filter(organization=organization, name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ValidationError({"name": f"There is already a source called “{name}”."})


@_write
def source_create(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    kind: str,
    default_service: Service | None = None,
    default_team: Team | None = None,
    default_category: Category | None = None,
    secret_in_url: bool = False,
    use_hmac: bool = False,
    rate_limit_per_minute: int = 6000,
    alertmanager_api_url: str = "",
    outbound_webhook_url: str = "",
    heartbeat_minutes: int | None = None,
) -> tuple[AlertSource, IssuedSecrets]:
    """A new, enabled source with a fresh bearer secret (stored hashed), an HMAC secret when
    `use_hmac`, and an outbound signing secret when it has an outbound webhook. The secrets
    are returned once and never again."""
    name = _required_text(name, "name", "A source needs a name.")
    _refuse_duplicate_name(organization, name, None)
    source = AlertSource(organization=organization, kind=kind)
    _source_fields(
        source,
        name=name,
        default_service=default_service,
        default_team=default_team,
        default_category=default_category,
        secret_in_url=secret_in_url,
        rate_limit_per_minute=rate_limit_per_minute,
        alertmanager_api_url=alertmanager_api_url,
        outbound_webhook_url=outbound_webhook_url,
        heartbeat_minutes=heartbeat_minutes,
    )
    issued = IssuedSecrets(bearer=new_bearer_secret())
    source.set_secret(issued.bearer)
    if use_hmac:
        issued.hmac = source.hmac_secret = new_signing_secret()
    if source.outbound_webhook_url:
        issued.outbound = source.outbound_secret = new_signing_secret()
    return _save(source), issued


@_write
def source_update(
    *,
    organization: Organization,
    actor: Membership,
    source: AlertSource,
    name: str,
    default_service: Service | None = None,
    default_team: Team | None = None,
    default_category: Category | None = None,
    secret_in_url: bool = False,
    use_hmac: bool = False,
    rate_limit_per_minute: int = 6000,
    alertmanager_api_url: str = "",
    outbound_webhook_url: str = "",
    heartbeat_minutes: int | None = None,
) -> tuple[AlertSource, IssuedSecrets]:
    """Change a source's settings (not its kind, nor its bearer secret: rotate for that).
    Turning HMAC on, or giving a first outbound webhook URL, issues a secret returned once;
    turning HMAC off forgets the HMAC secrets."""
    name = _required_text(name, "name", "A source needs a name.")
    _refuse_duplicate_name(organization, name, source)
    source = _own(source, organization)
    _source_fields(
        source,
        name=name,
        default_service=default_service,
        default_team=default_team,
        default_category=default_category,
        secret_in_url=secret_in_url,
        rate_limit_per_minute=rate_limit_per_minute,
        alertmanager_api_url=alertmanager_api_url,
        outbound_webhook_url=outbound_webhook_url,
        heartbeat_minutes=heartbeat_minutes,
    )
    issued = IssuedSecrets()
    if use_hmac and not source.hmac_secret:
        issued.hmac = source.hmac_secret = new_signing_secret()
    elif not use_hmac:
        source.hmac_secret = source.previous_hmac_secret = ""
    if source.outbound_webhook_url and not source.outbound_secret:
        issued.outbound = source.outbound_secret = new_signing_secret()
    _save(source)
    if issued:
        _audit_secret_change(source, "signing secret issued")
    return source, issued


@_write
def source_set_enabled(
    *, organization: Organization, actor: Membership, source: AlertSource, enabled: bool
) -> AlertSource:
    """A disabled source answers 404 to its senders, like an unknown one."""
    source = _own(source, organization)
    source.is_enabled = enabled
    source.save(update_fields=["is_enabled"])
    return source


@_write
def source_rotate_secret(
    *,
    organization: Organization,
    actor: Membership,
    source: AlertSource,
    overlap_seconds: int,
    rotate_hmac: bool = False,
    rotate_outbound: bool = False,
    now: datetime.datetime | None = None,
) -> IssuedSecrets:
    """A new bearer secret. With an overlap the current one keeps working until then (the
    one before it stops now); without, only the new one works from now on. Optionally new
    HMAC and outbound signing secrets too."""
    if overlap_seconds not in ROTATION_OVERLAPS:
        raise ValidationError({"overlap": "Choose no overlap, 1 hour or 24 hours."})
    now = now or timezone.now()
    source = _own(source, organization)
    issued = IssuedSecrets(bearer=new_bearer_secret())
    if overlap_seconds:
        issued.previous_valid_until = now + datetime.timedelta(seconds=overlap_seconds)
        source.set_secret(issued.bearer, keep_previous_until=issued.previous_valid_until)
    else:
        source.set_secret(issued.bearer)
        # set_secret() leaves an earlier overlap alone; "no overlap" means none at all.
        source.previous_secret_hash = ""
        source.previous_secret_expires_at = None
    if rotate_hmac and source.hmac_secret:
        source.previous_hmac_secret = source.hmac_secret if overlap_seconds else ""
        issued.hmac = source.hmac_secret = new_signing_secret()
    if rotate_outbound and source.outbound_webhook_url:
        issued.outbound = source.outbound_secret = new_signing_secret()
    source.save(
        update_fields=[
            "secret_hash",
            "previous_secret_hash",
            "previous_secret_expires_at",
            "hmac_secret",
            "previous_hmac_secret",
            "outbound_secret",
        ]
    )
    overlap = ROTATION_OVERLAPS[overlap_seconds].split(" — ")[0].lower()
    _audit_secret_change(source, f"rotated (overlap: {overlap})")
    return issued


# — test alerts ———————————————————————————————————————————————————————————————————————


TEST_LABEL = "vigil_test"


def sample_payload(kind: str, *, fingerprint: str, title: str, now=None) -> dict:
    """A body such a source sends, with one firing alert of the lowest severity, labelled
    vigil_test=true (so a rule can route test alerts). Kinds without an adapter of their own
    get Vigil's generic format."""
    now = now or timezone.now()
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"alertname": "VigilTestAlert", "severity": "info", TEST_LABEL: "true"}
    annotations = {"summary": title, "description": "Sent from the source page in Vigil."}
    if kind in ("alertmanager", "grafana"):
        return {
            "version": "4" if kind == "alertmanager" else "1",
            "groupKey": '{}:{alertname="VigilTestAlert"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "vigil",
            "groupLabels": {"alertname": "VigilTestAlert"},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": "http://alertmanager.example.com",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": stamp,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example.com/graph",
                    "fingerprint": fingerprint,
                }
            ],
        }
    if kind == "datadog":
        return {
            "aggreg_key": fingerprint,
            "alert_id": "1",
            "alert_transition": "Triggered",
            "alert_title": title,
            "alert_priority": "P4",
            "body": "Sent from the source page in Vigil.",
            "tags": f"{TEST_LABEL}:true,env:test",
            "date": int(now.timestamp() * 1000),
        }
    if kind == "pagerduty":
        return {
            "event_action": "trigger",
            "dedup_key": fingerprint,
            "payload": {
                "summary": title,
                "source": "vigil",
                "severity": "info",
                "custom_details": {TEST_LABEL: "true"},
            },
        }
    if kind == "sentry":
        return {
            "action": "triggered",
            "data": {
                "triggered_rule": "Vigil test",
                "event": {
                    "issue_id": fingerprint,
                    "title": title,
                    "level": "info",
                    "datetime": stamp,
                    "tags": [["environment", "test"]],
                },
            },
        }
    if kind == "splunk":
        return {
            "search_name": title,
            "sid": f"scheduler__vigil__search__test_at_{int(now.timestamp())}_1",
            "app": "search",
            "owner": "vigil",
            "results_link": "https://splunk.example.com/app/search",
            "result": {"host": "vigil-test", "test_id": fingerprint, "severity": "info"},
        }
    return {
        "dedup_key": fingerprint,
        "status": "firing",
        "title": title,
        "severity": "info",
        "labels": {TEST_LABEL: "true", "env": "test"},
        "starts_at": stamp,
    }


@dataclass
class TestAlertResult:
    body: dict
    alerts: list[NormalizedAlert]
    outcome: ingest.Outcome
    groups: list[AlertGroup] = field(default_factory=list)
    payload_id: int | None = None
    windows: list[str] = field(default_factory=list)


def source_send_test_alert(
    *, organization: Organization, actor: Membership, source: AlertSource, now=None
) -> TestAlertResult:
    """Send a sample alert through the real pipeline — the raw payload is committed, then
    normalised and processed as if the monitoring tool had posted it. Like a real alert it
    may open an incident (and page whoever its escalation path names)."""
    _require(actor, organization)
    if source.organization_id != organization.pk:
        raise PermissionDenied("That row belongs to another organisation.")
    if source.kind == "heartbeat":
        raise ValidationError("Heartbeat sources take pings, not alerts.")
    if not source.is_enabled:
        raise ValidationError("The source is disabled: enable it first.")
    now = now or timezone.now()
    fingerprint = f"vigil-test-{uuid.uuid4().hex[:12]}"
    title = f"Test alert from Vigil ({source.name})"
    body = sample_payload(source.kind, fingerprint=fingerprint, title=title, now=now)
    data = json.dumps(body).encode()
    with org_scope(organization):
        try:
            alerts = normalize(source.kind, ingest.parse_json(data))
        except PayloadError as error:  # a bug in sample_payload, not the admin's doing
            raise ValidationError(f"The sample payload was refused: {error}") from None
        raw = ingest.store_raw(source=source, body=data, content_type="application/json")
        outcome = ingest.process(raw, alerts, now=now)
        groups = list(
            AlertGroup.objects.filter(
                organization=organization,
                source=source,
                fingerprint__in=[alert.fingerprint for alert in alerts],
            ).select_related("incident")
        )
        windows = sorted(
            set(
                MaintenanceWindow.objects.filter(
                    organization=organization,
                    pk__in=Alert.objects.filter(organization=organization, raw=raw).values(
                        "suppressed_by_id"
                    ),
                ).values_list("name", flat=True)
            )
        )
    return TestAlertResult(
        body=body,
        alerts=alerts,
        outcome=outcome,
        groups=groups,
        payload_id=raw.pk,
        windows=windows,
    )


# — correlation rules —————————————————————————————————————————————————————————————————


@_write
def rule_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    rule: CorrelationRule | None = None,
    position: int = 100,
    is_active: bool = True,
    source: AlertSource | None = None,
    match_labels: dict | None = None,
    match_text: str = "",
    action: str = CorrelationRule.Action.CREATE,
    set_severity: SeverityLevel | None = None,
    set_category: Category | None = None,
    set_service: Service | None = None,
    set_team: Team | None = None,
    threshold_count: int = 1,
    threshold_window_minutes: int = 5,
    min_firing_seconds: int = 0,
    group_by: list | None = None,
    group_window_minutes: int = 10,
    flap_max: int = 0,
    flap_window_minutes: int = 60,
) -> CorrelationRule:
    """Create a correlation rule, or update `rule`. Active rules are tried from the lowest
    position up; the first that matches an alert group decides what it does."""
    name = _required_text(name, "name", "A rule needs a name.")
    rule = CorrelationRule(organization=organization) if rule is None else _own(rule, organization)
    build_rule(
        rule,
        name=name,
        position=position,
        is_active=is_active,
        source=source,
        match_labels=match_labels,
        match_text=match_text,
        action=action,
        set_severity=set_severity,
        set_category=set_category,
        set_service=set_service,
        set_team=set_team,
        threshold_count=threshold_count,
        threshold_window_minutes=threshold_window_minutes,
        min_firing_seconds=min_firing_seconds,
        group_by=group_by or [],
        group_window_minutes=group_window_minutes,
        flap_max=flap_max,
        flap_window_minutes=flap_window_minutes,
    )
    rule.check_same_organization(
        source=source,
        set_severity=set_severity,
        set_category=set_category,
        set_service=set_service,
        set_team=set_team,
    )
    return _save(rule)


def build_rule(rule: CorrelationRule, **fields) -> CorrelationRule:
    """Fill `rule` (saved or not) from a form's cleaned data; used to save and to try."""
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.match_text = " ".join((rule.match_text or "").split())
    rule.match_labels = rule.match_labels or {}
    rule.threshold_count = max(rule.threshold_count or 1, 1)
    return rule


@_write
def rule_delete(*, organization: Organization, actor: Membership, rule: CorrelationRule) -> None:
    _own(rule, organization).delete()


# — maintenance windows ———————————————————————————————————————————————————————————————

_PERIODS = {
    MaintenanceWindow.Recurrence.DAILY: datetime.timedelta(days=1),
    MaintenanceWindow.Recurrence.WEEKLY: datetime.timedelta(days=7),
}


@_write
def window_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    window: MaintenanceWindow | None = None,
    recurrence: str = MaintenanceWindow.Recurrence.NONE,
    service: Service | None = None,
    match_labels: dict | None = None,
    is_active: bool = True,
) -> MaintenanceWindow:
    """Create a maintenance window, or update `window`. Matching alerts inside it are stored
    as suppressed and open no incident."""
    name = _required_text(name, "name", "A window needs a name.")
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "The window must end after it starts."})
    period = _PERIODS.get(recurrence)
    if period is not None and ends_at - starts_at >= period:
        raise ValidationError(
            {"ends_at": f"A window that repeats every {period.days} day(s) must be shorter."}
        )
    window = (
        MaintenanceWindow(organization=organization)
        if window is None
        else _own(window, organization)
    )
    window.name = name
    window.starts_at = starts_at
    window.ends_at = ends_at
    window.recurrence = recurrence
    window.service = service
    window.match_labels = match_labels or {}
    window.is_active = is_active
    window.check_same_organization(service=service)
    return _save(window)


@_write
def window_delete(
    *, organization: Organization, actor: Membership, window: MaintenanceWindow
) -> None:
    """Alerts it suppressed keep their suppressed flag; they lose the link to the window."""
    _own(window, organization).delete()
