"""The incident and what hangs off it: timeline, impact periods, verifications, ownership
requests, the per-organisation key counter and restricted-access permissions."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from incidents.lifecycle import OPEN_STATES, Status, missing_for
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import OrgOwned, Team, User


class KeyCounter(OrgOwned):
    """The last incident number handed out in an organisation. Incremented in the same
    transaction as the insert, so numbers are gap-free and never reused."""

    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="keycounter_one")]

    def __str__(self) -> str:
        return f"{self.last_number}"


def _can_transition(instance, user) -> bool:
    from tenancy.models import Membership
    from tenancy.roles import Capability, can

    membership = (
        Membership.objects.with_scopes_disabled()  # the acting user's role in this incident's org
        .filter(organization_id=instance.organization_id, user=user)
        .first()
    )
    return membership is not None and can(membership.role, Capability.TRANSITION_INCIDENTS)


def _requirements_met(target: str):
    def condition(instance) -> bool:
        return not missing_for(instance, target)

    condition.__name__ = f"requirements_for_{target}"
    return condition


class Incident(ConcurrentTransitionMixin, OrgOwned):
    """Something that went wrong, from report to close. The status only changes through the
    transitions below, each guarded by incidents.lifecycle's requirements."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        ALERT = "alert", "Alert"
        API = "api", "API"
        CLI = "cli", "Command line"

    class Kind(models.TextChoices):
        REAL = "real", "Real"
        TEST = "test", "Test"
        GAME_DAY = "game_day", "Game day"

    class RootCause(models.TextChoices):
        CODE_CHANGE = "code_change", "Code change"
        CONFIG_CHANGE = "config_change", "Configuration change"
        CAPACITY = "capacity", "Capacity"
        DEPENDENCY = "dependency", "Third-party dependency"
        HARDWARE = "hardware", "Hardware or infrastructure failure"
        SECURITY = "security", "Security event"
        HUMAN_ERROR = "process", "Process gap"
        UNKNOWN = "unknown", "Unknown after investigation"

    number = models.PositiveIntegerField(editable=False)
    key = models.CharField(max_length=24, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.ForeignKey(SeverityLevel, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    primary_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    affected_services = models.ManyToManyField(Service, blank=True, related_name="+")
    owning_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    involved_teams = models.ManyToManyField(Team, blank=True, related_name="+")
    commander = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reporter = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    watchers = models.ManyToManyField(User, blank=True, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REAL)
    is_restricted = models.BooleanField(
        "restricted", default=False, help_text="Visible only to people granted access, and admins."
    )
    status = FSMField(default=Status.REPORTED, choices=Status.choices, protected=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    detected_at = models.DateTimeField(default=timezone.now)
    reported_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    impact_summary = models.TextField(blank=True)
    resolution_summary = models.TextField(blank=True)
    root_cause_category = models.CharField(max_length=20, choices=RootCause.choices, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    severity_assessment = models.JSONField(default=dict, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    reopen_count = models.PositiveIntegerField(default=0)
    reclassified = models.BooleanField(
        default=False, help_text="Category or severity changed after the incident was declared."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="incident_number_unique"
            ),
            models.UniqueConstraint(fields=["organization", "key"], name="incident_key_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-number"], name="incident_org_status"),
            models.Index(fields=["organization", "severity", "-number"], name="incident_org_sev"),
            models.Index(fields=["organization", "-reported_at"], name="incident_org_reported"),
            # The restricted incidents of an organisation (few): the dashboard counts the ones
            # a reader may see live, next to the roll-ups (reporting/rollups.py).
            models.Index(
                fields=["organization"],
                name="incident_org_restricted",
                condition=models.Q(is_restricted=True),
            ),
            # The reporting KPIs (reporting/kpis.py): incidents resolved / acknowledged in a
            # period of one organisation.
            models.Index(fields=["organization", "resolved_at"], name="incident_org_resolved"),
            models.Index(
                fields=["organization", "acknowledged_at"], name="incident_org_acknowledged"
            ),
            models.Index(fields=["organization", "primary_service"], name="incident_org_service"),
            models.Index(fields=["organization", "owning_team"], name="incident_org_team"),
            models.Index(fields=["organization", "commander"], name="incident_org_commander"),
            models.Index(fields=["organization", "category"], name="incident_org_category"),
            GinIndex(
                SearchVector("title", "description", config="english"),
                name="incident_search",
            ),
            GinIndex(fields=["custom_fields"], name="incident_custom_fields"),
        ]
        permissions = [("manage_access_incident", "Grant and revoke access to an incident")]

    def __str__(self) -> str:
        return f"{self.key} · {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def counts_in_metrics(self) -> bool:
        return self.kind == self.Kind.REAL and self.status not in (
            Status.DUPLICATE,
            Status.DISMISSED,
        )

    def has_passed_verification(self) -> bool:
        """A verification passed since the current impact period began (a reopen needs a new
        one)."""
        since = self.current_period_start()
        return self.verifications.filter(
            status=Verification.Status.PASSED, **({"completed_at__gte": since} if since else {})
        ).exists()

    def current_period_start(self):
        period = self.impact_periods.order_by("-number").first()
        return period.started_at if period else None

    def clean(self):
        self.check_same_organization(
            severity=self.severity,
            category=self.category,
            primary_service=self.primary_service,
            owning_team=self.owning_team,
            duplicate_of=self.duplicate_of,
        )

    # Transitions change the state only; incidents.services does the rest (timestamps,
    # timeline, impact periods) in the same transaction.
    @transition(
        field=status,
        source=Status.REPORTED,
        target=Status.INVESTIGATING,
        conditions=[_requirements_met(Status.INVESTIGATING)],
        permission=_can_transition,
    )
    def start_investigation(self):
        pass

    @transition(
        field=status,
        source=Status.INVESTIGATING,
        target=Status.MITIGATED,
        conditions=[_requirements_met(Status.MITIGATED)],
        permission=_can_transition,
    )
    def mitigate(self):
        pass

    @transition(
        field=status,
        source=[Status.INVESTIGATING, Status.MITIGATED],
        target=Status.RESOLVED,
        conditions=[_requirements_met(Status.RESOLVED)],
        permission=_can_transition,
    )
    def resolve(self):
        pass

    @transition(
        field=status,
        source=Status.RESOLVED,
        target=Status.CLOSED,
        conditions=[_requirements_met(Status.CLOSED)],
        permission=_can_transition,
    )
    def close(self):
        pass

    @transition(
        field=status,
        source=[Status.RESOLVED, Status.CLOSED],
        target=Status.INVESTIGATING,
        conditions=[_requirements_met(Status.INVESTIGATING)],
        permission=_can_transition,
    )
    def reopen(self):
        pass

    @transition(
        field=status, source=Status.REPORTED, target=Status.DISMISSED, permission=_can_transition
    )
    def dismiss(self):
        pass

    @transition(
        field=status, source=list(OPEN_STATES), target=Status.DUPLICATE, permission=_can_transition
    )
    def mark_duplicate(self):
        pass


class IncidentUserObjectPermission(UserObjectPermissionBase):
    """Per-incident grants (restricted incidents), with a real foreign key so they cascade."""

    content_object = models.ForeignKey(Incident, on_delete=models.CASCADE)


class IncidentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Incident, on_delete=models.CASCADE)


class TimelineEvent(OrgOwned):
    """One line of the incident's story, shown to responders newest first."""

    class Kind(models.TextChoices):
        CREATED = "created", "Declared"
        STATUS = "status", "Status change"
        FIELD = "field", "Field change"
        COMMENT = "comment", "Comment"
        SEVERITY = "severity", "Severity"
        CLASSIFICATION = "classification", "Classification"
        OWNERSHIP = "ownership", "Ownership"
        VERIFICATION = "verification", "Verification"
        DUPLICATE = "duplicate", "Duplicate"
        ACCESS = "access", "Access"
        ALERT = "alert", "Alert"
        STATUS_UPDATE = "status_update", "Status update"
        HANDOFF = "handoff", "Handoff"
        SLA = "sla", "SLA"
        ESCALATION = "escalation", "Escalation"
        ROLE = "role", "Role"
        DECISION = "decision", "Decision"
        QUESTION = "question", "Open question"
        EXTERNAL = "external", "External communication"
        POSTMORTEM = "postmortem", "Post-mortem"
        REGULATORY = "regulatory", "Regulatory"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Decisions can be pinned to the top of the incident page.
    is_pinned = models.BooleanField("pinned", default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["incident", "-created_at"], name="timeline_incident_ts"),
            models.Index(
                fields=["incident", "-pinned_at"],
                condition=models.Q(is_pinned=True),
                name="timeline_pinned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:60]}"


class ImpactPeriod(OrgOwned):
    """A span during which the incident hurt: opens at detection (or a reopen), closes at
    mitigation or resolution."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="impact_periods")
    number = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="impact_period_number"),
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(ended_at__isnull=True),
                name="impact_period_one_open",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True)
                | models.Q(ended_at__gte=models.F("started_at")),
                name="impact_period_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Impact period {self.number}"

    @property
    def duration(self):
        return (self.ended_at or timezone.now()) - self.started_at


class Verification(OrgOwned):
    """Evidence that the fix works: a named person's confirmation, or an automated health check
    of the affected service."""

    class Method(models.TextChoices):
        CONFIRMATION = "confirmation", "Stakeholder confirmation"
        HEALTH_CHECK = "health_check", "Automated health check"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="verifications")
    method = models.CharField(max_length=20, choices=Method.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    confirmer = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    url = models.URLField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    evidence = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} ({self.get_status_display()})"


class OwnershipRequest(OrgOwned):
    """A team asks to take over an incident, or its owner offers to hand it over."""

    class Kind(models.TextChoices):
        TAKE = "take", "Take ownership"
        HANDOVER = "handover", "Hand over"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="ownership_requests"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    escalate_at = models.DateTimeField(db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(status="pending"),
                name="ownership_one_pending_per_incident",
            ),
        ]
        indexes = [
            models.Index(
                fields=["escalate_at"],
                condition=models.Q(status="pending", escalated_at__isnull=True),
                name="ownership_due_escalation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.to_team}"

    @property
    def deciding_team(self):
        """Who answers: the current owner when another team asks to take it; the receiving team
        when the owner hands it over."""
        return self.from_team if self.kind == self.Kind.TAKE else self.to_team
