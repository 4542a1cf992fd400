"""Alert sources and what they send: raw payloads, alerts, alert groups, correlation rules and
maintenance windows."""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from incidents.models import Incident
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import OrgOwned, Team

SOURCE_KINDS = [
    ("alertmanager", "Prometheus Alertmanager"),
    ("grafana", "Grafana alerting"),
    ("datadog", "Datadog"),
    ("pagerduty", "PagerDuty Events API v2"),
    ("sentry", "Sentry issue alerts"),
    ("splunk", "Splunk alert action"),
    ("generic", "Generic JSON"),
    ("heartbeat", "Heartbeat only"),
]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class AlertSource(OrgOwned):
    """A monitoring tool that posts to `/hooks/<public_id>/`. The bearer secret is stored
    hashed and shown once; after a rotation the previous one keeps working until
    `previous_secret_expires_at`."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=SOURCE_KINDS)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    secret_hash = models.CharField(max_length=64)
    previous_secret_hash = models.CharField(max_length=64, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    hmac_secret = models.CharField(
        max_length=128,
        blank=True,
        help_text="When set, posts must carry X-Vigil-Signature (HMAC-SHA256).",
    )
    previous_hmac_secret = models.CharField(max_length=128, blank=True)
    secret_in_url = models.BooleanField(
        default=False,
        help_text="Also accept /hooks/<id>/<secret>/ for senders that only take a URL.",
    )
    default_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_enabled = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=6000)
    alertmanager_api_url = models.URLField(
        blank=True,
        help_text="Alertmanager's base URL: Vigil silences an incident's alerts while it is "
        "acknowledged and expires the silence on resolve.",
    )
    outbound_webhook_url = models.URLField(
        blank=True, help_text="Vigil posts the incident's state here, signed like inbound calls."
    )
    outbound_secret = models.CharField(max_length=128, blank=True)
    heartbeat_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expect a ping at least this often."
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    rejected_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("organization", "name", name="alert_source_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def set_secret(self, secret: str, *, keep_previous_until=None) -> None:
        if keep_previous_until and self.secret_hash:
            self.previous_secret_hash = self.secret_hash
            self.previous_secret_expires_at = keep_previous_until
        self.secret_hash = hash_secret(secret)

    def secret_matches(self, secret: str, now=None) -> bool:
        """Constant-time comparison with the current secret, or the previous one while its
        overlap lasts."""
        if not secret:
            return False
        given = hash_secret(secret)
        if secrets.compare_digest(given, self.secret_hash):
            return True
        now = now or timezone.now()
        return bool(
            self.previous_secret_hash
            and self.previous_secret_expires_at
            and self.previous_secret_expires_at > now
            and secrets.compare_digest(given, self.previous_secret_hash)
        )

    def clean(self):
        self.check_same_organization(
            default_service=self.default_service if self.default_service_id else None,
            default_team=self.default_team if self.default_team_id else None,
            default_category=self.default_category if self.default_category_id else None,
        )


class RawPayload(OrgOwned):
    """Exactly what a sender posted, committed before Vigil answers 202."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="payloads")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.CharField(max_length=500, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["source", "-received_at"], name="rawpayload_source_ts"),
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="received"),
                name="rawpayload_unprocessed",
            ),
        ]

    def __str__(self) -> str:
        return f"Payload {self.pk} from {self.source}"


class SignatureSeen(OrgOwned):
    """HMAC signatures already accepted, so a replayed request is refused."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="+")
    signature = models.CharField(max_length=128)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "signature"], name="signature_seen_once"),
        ]

    def __str__(self) -> str:
        return self.signature[:12]


class AlertGroup(OrgOwned):
    """Alerts with one fingerprint (or clustered by a rule) while they fire. One open group per
    source and fingerprint, guaranteed by a partial unique index: concurrent identical posts
    upsert into it."""

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="groups")
    fingerprint = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FIRING)
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=30, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(default=1)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alert_groups"
    )
    is_suppressed = models.BooleanField(default=False)
    suppressed_reason = models.CharField(max_length=100, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "fingerprint"],
                condition=models.Q(status="firing"),
                name="alert_group_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-last_seen"], name="alertgroup_org_seen"),
            models.Index(fields=["incident"], name="alertgroup_incident"),
        ]

    def __str__(self) -> str:
        return self.title


class Alert(OrgOwned):
    """One normalised alert as received, with the times that measure Vigil's latency."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="alerts")
    raw = models.ForeignKey(RawPayload, on_delete=models.CASCADE, related_name="alerts")
    group = models.ForeignKey(
        AlertGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    fingerprint = models.CharField(max_length=200)
    status = models.CharField(max_length=15)
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=30, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    links = models.JSONField(default=list, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    incident_linked_at = models.DateTimeField(null=True, blank=True)
    suppressed_by = models.ForeignKey(
        "MaintenanceWindow", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["source", "-received_at"], name="alert_source_ts"),
            models.Index(fields=["organization", "-received_at"], name="alert_org_ts"),
        ]

    def __str__(self) -> str:
        return self.title


class CorrelationRule(OrgOwned):
    """Ordered: the first active rule whose matchers fit decides what an alert group does."""

    class Action(models.TextChoices):
        CREATE = "create", "Create an incident"
        ATTACH = "attach", "Attach to the open incident of the same service, else create"
        RECORD = "record", "Record only"

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    source = models.ForeignKey(
        AlertSource, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    match_labels = models.JSONField(default=dict, blank=True)
    match_text = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.CREATE)
    set_severity = models.ForeignKey(
        SeverityLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    threshold_count = models.PositiveIntegerField(
        default=1, help_text="Create an incident only when this many alerts arrive…"
    )
    threshold_window_minutes = models.PositiveIntegerField(default=5, help_text="…within this.")
    min_firing_seconds = models.PositiveIntegerField(
        default=0, help_text="Ignore alerts that resolve sooner than this."
    )
    group_by = models.JSONField(
        default=list,
        blank=True,
        help_text='Label keys that cluster alerts into one group, e.g. ["service", "region"].',
    )
    group_window_minutes = models.PositiveIntegerField(
        default=10, help_text="A cluster takes new alerts for this long after its last one."
    )
    flap_max = models.PositiveIntegerField(
        default=0,
        help_text="More re-fires than this within the flap window open nothing (0 = off).",
    )
    flap_window_minutes = models.PositiveIntegerField(default=60)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if not isinstance(self.group_by, list) or not all(
            isinstance(k, str) and k for k in self.group_by
        ):
            raise ValidationError({"group_by": 'A JSON list of label keys, e.g. ["service"].'})
        if not isinstance(self.match_labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.match_labels.items()
        ):
            raise ValidationError(
                {"match_labels": 'A JSON object of strings, e.g. {"env": "prod"}.'}
            )


class OutboundCall(OrgOwned):
    """A call Vigil makes back to a source (a silence, a state webhook), retried with backoff
    and shown on the source's health page. Never blocks what caused it."""

    class Kind(models.TextChoices):
        SILENCE_CREATE = "silence_create", "Create silence"
        SILENCE_EXPIRE = "silence_expire", "Expire silence"
        WEBHOOK = "webhook", "State webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="outbound")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    response = models.TextField(blank=True)
    silence_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="outbound_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.incident_id}"


class MaintenanceWindow(OrgOwned):
    """Planned work: alerts that match inside it are stored as suppressed and open nothing."""

    class Recurrence(models.TextChoices):
        NONE = "none", "Once"
        DAILY = "daily", "Every day"
        WEEKLY = "weekly", "Every week"

    name = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    recurrence = models.CharField(max_length=10, choices=Recurrence.choices, default="none")
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    match_labels = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="maintenance_ends_after"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def covers(self, when) -> bool:
        """Whether `when` falls inside this window (or one of its repetitions)."""
        import datetime

        if not self.is_active:
            return False
        length = self.ends_at - self.starts_at
        if self.recurrence == self.Recurrence.NONE:
            return self.starts_at <= when < self.ends_at
        if when < self.starts_at:
            return False
        period = datetime.timedelta(days=1 if self.recurrence == "daily" else 7)
        offset = (when - self.starts_at) % period
        return offset < length


# PagerDuty paging (integrations/pagerduty/): its models live in this app.
from integrations.pagerduty.models import PagerDutyEvent, PagerDutyService  # noqa: E402, F401
