"""Time-based promises: SLA policies, business-hours calendars, timers, escalation runs."""

import datetime

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from incidents.models.incident import Incident
from taxonomy.models import Category, EscalationStep, SeverityLevel
from tenancy.models import OrgOwned, validate_timezone


class BusinessCalendar(OrgOwned):
    """When the organisation works: days, hours and its time zone (holidays below). SLA
    policies that count business time stop their clocks outside these hours."""

    name = models.CharField(max_length=80, default="Office hours")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    working_days = models.JSONField(
        default=list, help_text="ISO weekdays that are working days: 1 = Monday … 7 = Sunday."
    )
    day_start = models.TimeField(default=datetime.time(9, 0))
    day_end = models.TimeField(default=datetime.time(17, 0))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="calendar_one")]

    def __str__(self) -> str:
        return self.name


class Holiday(OrgOwned):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Phase(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    MITIGATE = "mitigate", "Mitigate"
    RESOLVE = "resolve", "Resolve"


class SlaPolicy(OrgOwned):
    """Target durations per lifecycle phase for one severity (optionally one category, which
    then overrides the severity's default policy)."""

    class Clock(models.TextChoices):
        WALL = "wall", "Wall-clock time"
        BUSINESS = "business", "Business hours"

    severity = models.ForeignKey(SeverityLevel, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledge_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    mitigate_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    resolve_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    clock = models.CharField(max_length=10, choices=Clock.choices, default=Clock.WALL)
    warn_at_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn when this share of the target has passed.",
    )

    class Meta:
        ordering = ["severity__level"]
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "severity", "category"],
                name="sla_policy_per_severity_category",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity} SLA" + (f" ({self.category})" if self.category_id else "")

    def target_minutes(self, phase: str) -> int:
        return getattr(self, f"{phase}_minutes")


class SlaTimer(OrgOwned):
    """One phase's clock for one impact period of an incident. Swept by `sla.sweep_due`: the
    row is the record, so a restart or a second sweeper never loses or doubles a firing."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="sla_timers")
    phase = models.CharField(max_length=12, choices=Phase.choices)
    period_number = models.PositiveSmallIntegerField(default=1)
    policy = models.ForeignKey(SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="+")
    clock = models.CharField(max_length=10, default=SlaPolicy.Clock.WALL)
    target_minutes = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    warn_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Ended without being met (dismissed, duplicate, superseded by a reopen).",
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_for = models.DurationField(default=datetime.timedelta)
    pause_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["period_number", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "phase", "period_number"], name="sla_timer_unique_phase"
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(
                    met_at__isnull=True,
                    breached_at__isnull=True,
                    stopped_at__isnull=True,
                    paused_at__isnull=True,
                ),
                name="sla_timer_due",
            ),
            models.Index(
                fields=["warn_at"],
                condition=models.Q(
                    met_at__isnull=True,
                    breached_at__isnull=True,
                    stopped_at__isnull=True,
                    paused_at__isnull=True,
                    warned_at__isnull=True,
                ),
                name="sla_timer_warn_due",
            ),
            # SLA compliance over a period (reporting/kpis.py): timers met or breached in it.
            models.Index(
                fields=["met_at"], condition=models.Q(met_at__isnull=False), name="sla_timer_met"
            ),
            models.Index(
                fields=["breached_at"],
                condition=models.Q(breached_at__isnull=False),
                name="sla_timer_breached",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident.key} {self.get_phase_display()} SLA"

    @property
    def is_running(self) -> bool:
        return not (self.met_at or self.breached_at or self.stopped_at)

    @property
    def state(self) -> str:
        if self.met_at:
            return "met"
        if self.stopped_at and not self.breached_at:
            return "stopped"
        if self.paused_at:
            return "paused"
        if self.breached_at:
            return "breached"
        return "running"

    def time_left(self, now=None):
        return self.due_at - (now or timezone.now())


class EscalationRun(OrgOwned):
    """One step of an escalation path due for one incident and one trigger. Claimed by the
    sweeper with SKIP LOCKED and marked fired in the same transaction as its notifications, so
    a step is never fired twice — not after a restart, not by two sweepers."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    step = models.ForeignKey(EscalationStep, null=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=40, help_text="new, or breach:<timer id>")
    step_label = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    notified = models.JSONField(default=list, blank=True, help_text="[{user, channels}]")

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "step", "trigger"], name="escalation_run_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(fired_at__isnull=True, cancelled_at__isnull=True),
                name="escalation_run_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident.key}: {self.step_label}"
