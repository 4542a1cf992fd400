"""Coordination of a running incident: who holds which role, status updates and their
cadence, shift handoffs and open questions. Decisions are timeline events (kind "decision")
that can be pinned; see TimelineEvent.is_pinned."""

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from incidents.models.incident import Incident
from taxonomy.models import SeverityLevel
from tenancy.models import OrgOwned, User


class IncidentRole(OrgOwned):
    """A person's role on one incident besides the commander (who is `Incident.commander`).
    Deputy, scribe and communications lead have one holder at a time; responders are many.
    A role is ended, never deleted, so the page and the audit trail keep who held it."""

    class Kind(models.TextChoices):
        DEPUTY = "deputy", "Deputy commander"
        SCRIBE = "scribe", "Scribe"
        COMMS = "comms", "Communications lead"
        RESPONDER = "responder", "Responder"

    SINGLE = (Kind.DEPUTY, Kind.SCRIBE, Kind.COMMS)

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=12, choices=Kind.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=models.Q(ended_at__isnull=True) & ~models.Q(role="responder"),
                name="incident_role_one_holder",
            ),
            models.UniqueConstraint(
                fields=["incident", "role", "user"],
                condition=models.Q(ended_at__isnull=True),
                name="incident_role_once_per_person",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "incident"],
                condition=models.Q(ended_at__isnull=True),
                name="incident_role_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"


class StatusCadence(OrgOwned):
    """How often an incident of one severity must get a status update. No row means the
    default (STATUS_CADENCE_DEFAULTS); `minutes=None` means no required cadence."""

    severity = models.ForeignKey(SeverityLevel, on_delete=models.CASCADE, related_name="+")
    minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "severity"], name="status_cadence_one_per_severity"
            ),
            models.CheckConstraint(
                condition=models.Q(minutes__isnull=True)
                | models.Q(minutes__gte=1, minutes__lte=7 * 24 * 60),
                name="status_cadence_minutes_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.minutes or 'no'} min"


# severity level → minutes between status updates (missing: no required cadence)
STATUS_CADENCE_DEFAULTS = {1: 15, 2: 30, 3: 120}


class StatusUpdateTemplate(OrgOwned):
    """A pre-written status update. Placeholders such as {key} or {severity} are filled from
    the incident when someone starts an update from it (incidents.coordination.PLACEHOLDERS)."""

    name = models.CharField(max_length=80)
    current_status = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    body = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="status_template_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StatusUpdate(OrgOwned):
    """What the incident team told everyone at one moment. `due_at` is the deadline it
    answered (None when the severity has no cadence) and `late_seconds` how late it came
    (0 = on time): the cadence-adherence record for metrics."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    author = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(
        StatusUpdateTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_status = models.TextField()
    impact = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    body = models.TextField(blank=True)
    next_update_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(default=timezone.now)
    severity_name = models.CharField(max_length=30, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    late_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "incident", "-posted_at"], name="status_update_ts")
        ]

    def __str__(self) -> str:
        return f"Status update on {self.incident_id} at {self.posted_at:%H:%M}"

    @property
    def on_time(self) -> bool | None:
        return None if self.late_seconds is None else self.late_seconds == 0


class StatusDeadline(OrgOwned):
    """The durable record of "the next status update is due at …". The sweeper claims it
    with SKIP LOCKED to remind shortly before (`remind_at`) and once overdue (`due_at`), each
    exactly once. A posted update satisfies it; a new deadline follows."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="status_deadlines"
    )
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    satisfied_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(satisfied_at__isnull=True, cancelled_at__isnull=True),
                name="status_deadline_one_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["remind_at"],
                condition=models.Q(
                    reminded_at__isnull=True, satisfied_at__isnull=True, cancelled_at__isnull=True
                ),
                name="status_deadline_remind",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(
                    overdue_at__isnull=True, satisfied_at__isnull=True, cancelled_at__isnull=True
                ),
                name="status_deadline_overdue",
            ),
        ]

    def __str__(self) -> str:
        return f"Status update due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.satisfied_at is None and self.cancelled_at is None


class Handoff(OrgOwned):
    """A shift handoff from one person to another. When the outgoing person was the
    commander, command moves only when the incoming person acknowledges."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for acknowledgement"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CANCELLED = "cancelled", "Cancelled"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="handoffs")
    outgoing = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    incoming = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    summary = models.TextField()
    workarounds = models.TextField(blank=True)
    pending_actions = models.JSONField(
        default=list, blank=True, help_text='[{"action": …, "owner_id": …, "owner": …}]'
    )
    transfers_command = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)
    remind_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(status="pending"),
                name="handoff_one_pending_per_incident",
            ),
        ]
        indexes = [
            models.Index(
                fields=["remind_at"],
                condition=models.Q(status="pending", reminded_at__isnull=True),
                name="handoff_due_reminder",
            ),
            models.Index(
                fields=["escalate_at"],
                condition=models.Q(status="pending", escalated_at__isnull=True),
                name="handoff_due_escalation",
            ),
        ]

    def __str__(self) -> str:
        return f"Handoff {self.outgoing} → {self.incoming}"


class OpenQuestion(OrgOwned):
    """Something the incident team does not know yet. Added directly or by a handoff; closed
    with an answer."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="open_questions")
    text = models.CharField(max_length=500)
    asked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["organization", "incident"],
                condition=models.Q(answered_at__isnull=True),
                name="open_question_open",
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def is_open(self) -> bool:
        return self.answered_at is None
