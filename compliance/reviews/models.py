"""Access reviews: periodic campaigns in which admins and compliance staff certify or revoke
every member's role and every grant on a restricted incident, then sign the result off."""

from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from tenancy.models import OrgOwned, User
from tenancy.roles import Role


class ReviewPolicy(OrgOwned):
    """How often an organisation reviews access and how long reviewers have. One row per
    organisation; without one, the defaults below apply."""

    period_months = models.PositiveSmallIntegerField(
        "review every (months)",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="A new review starts when the last one is this old (3 = quarterly).",
    )
    due_days = models.PositiveSmallIntegerField(
        "reviewers have (days)",
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    remind_days_before = models.PositiveSmallIntegerField(
        "remind reviewers (days before the due date)",
        default=3,
        validators=[MinValueValidator(0), MaxValueValidator(60)],
        help_text="0: no reminder, only the escalation to admins once overdue.",
    )

    class Meta:
        verbose_name = "access review policy"
        verbose_name_plural = "access review policies"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="review_policy_one_per_org"),
            models.CheckConstraint(
                condition=models.Q(period_months__gte=1, due_days__gte=1),
                name="review_policy_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"Access reviews every {self.period_months} months"


class Campaign(OrgOwned):
    """One access review: the snapshot of who had which access when it started, a due date,
    its reviewers' decisions and, once every line is decided, a sign-off.

    The deadlines are the row's own columns (`remind_at`, `due_at`, `reminded_at`,
    `escalated_at`), swept with SKIP LOCKED so each fires exactly once."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SIGNED_OFF = "signed_off", "Signed off"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Scheduled"
        MANUAL = "manual", "Started by hand"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    period_start = models.DateField(help_text="First day of the period the review covers.")
    period_end = models.DateField(help_text="Last day of the period (the day it started).")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_hash = models.CharField(
        max_length=64, blank=True, help_text="Content hash of the decisions at sign-off."
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            # Two starts at once (beat twice, a button pressed twice) make one campaign.
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(status="open"),
                name="review_campaign_one_open_per_org",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "signed_off"]),
                name="review_campaign_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open")
                | models.Q(signed_off_at__isnull=False, signed_off_by__isnull=False),
                name="review_campaign_signed_off_has_signer",
            ),
        ]
        indexes = [
            models.Index(
                fields=["remind_at"],
                condition=models.Q(status="open", reminded_at__isnull=True),
                name="review_campaign_remind_due",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="open", escalated_at__isnull=True),
                name="review_campaign_escalate_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Access review {self.period_start:%Y-%m-%d} – {self.period_end:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def is_overdue(self, now=None) -> bool:
        return self.is_open and (now or timezone.now()) >= self.due_at


class ReviewLine(OrgOwned):
    """One piece of access as it stood when the campaign started — a member's role, or a
    user's or group's grant on a restricted incident — and the reviewer's decision on it."""

    class Kind(models.TextChoices):
        MEMBERSHIP = "membership", "Membership"
        GRANT = "grant", "Restricted incident (user)"
        GROUP_GRANT = "group_grant", "Restricted incident (group)"

    class Decision(models.TextChoices):
        PENDING = "pending", "Pending"
        CERTIFIED = "certified", "Certified"
        REVOKED = "revoked", "Revoked"

    class Action(models.TextChoices):
        REMOVE = "remove", "Remove the access"
        LOWER = "lower", "Lower the role"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(
        max_length=254, help_text="Whose access, as it read at the snapshot (e-mail or group)."
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident_key = models.CharField(max_length=30, blank=True)
    permission = models.CharField(max_length=100, blank=True)
    reviewer = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    action = models.CharField(max_length=20, choices=Action.choices, blank=True)
    new_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    reason = models.TextField(blank=True)
    outcome = models.CharField(
        max_length=300, blank=True, help_text="What the decision changed, in words."
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["kind", "subject", "incident_key", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision="pending")
                | models.Q(decided_at__isnull=False, decided_by__isnull=False),
                name="review_line_decided_has_decider",
            ),
            models.CheckConstraint(
                condition=~models.Q(decision="revoked") | ~models.Q(action=""),
                name="review_line_revoked_has_action",
            ),
            models.CheckConstraint(
                condition=models.Q(decision__in=["pending", "certified", "revoked"]),
                name="review_line_decision_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "decision"], name="review_line_campaign_decision"),
            models.Index(fields=["reviewer", "decision"], name="review_line_reviewer_decision"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.MEMBERSHIP:
            return f"{self.subject} as {self.get_role_display().lower()}"
        return f"{self.subject} on {self.incident_key}"

    @property
    def is_decided(self) -> bool:
        return self.decision != self.Decision.PENDING
