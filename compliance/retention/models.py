"""Retention policies, legal holds and purge receipts.

A `RetentionPolicy` says how long one organisation keeps one record type (compliance.records)
and what the purge does afterwards (delete or anonymise). No policy means keep forever. A
`LegalHold` suspends the purge of everything in its scope until it is released (the row stays,
with who released it and when). Every purge run, real or dry, leaves a `PurgeReceipt` per record
type it touched."""

import uuid

from django.db import models
from django.utils import timezone

from compliance.models import RecordType
from incidents.models import Incident
from taxonomy.models import Service
from tenancy.models import OrgOwned, User


class PurgeAction(models.TextChoices):
    DELETE = "delete", "Delete"
    ANONYMISE = "anonymise", "Anonymise"


class RetentionPolicy(OrgOwned):
    """How long an organisation keeps one record type, counted from the row's date (an
    incident's close, an alert payload's receipt, an audit entry's time)."""

    record_type = models.CharField(max_length=20, choices=RecordType.choices)
    days = models.PositiveIntegerField(help_text="Keep rows this many days, then purge them.")
    duration_text = models.CharField(
        max_length=60, blank=True, help_text="The duration as entered, e.g. “7 years”."
    )
    action = models.CharField(
        max_length=10, choices=PurgeAction.choices, default=PurgeAction.DELETE
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["record_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "record_type"], name="retentionpolicy_one_per_type"
            ),
            models.CheckConstraint(condition=models.Q(days__gt=0), name="retentionpolicy_days"),
        ]

    def __str__(self) -> str:
        return f"{self.get_record_type_display()}: {self.days} days"


class LegalHold(OrgOwned):
    """A matter (litigation, investigation) for which nothing in scope may be purged. The
    scope is the whole organisation, or the union of selected incidents, services and a date
    range: a row is held when any of them reaches it."""

    matter = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    whole_organization = models.BooleanField("whole organisation", default=False)
    incidents = models.ManyToManyField(Incident, blank=True, related_name="+")
    services = models.ManyToManyField(Service, blank=True, related_name="+")
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    custodian = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_from__isnull=True)
                | models.Q(date_to__isnull=True)
                | models.Q(date_from__lte=models.F("date_to")),
                name="legalhold_date_order",
            ),
            models.CheckConstraint(
                condition=models.Q(released_at__isnull=True) | models.Q(released_by__isnull=False),
                name="legalhold_released_by",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization"],
                name="legalhold_active",
                condition=models.Q(released_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.matter

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class PurgeReceipt(OrgOwned):
    """What one purge run did (or, for a dry run, would have done) to one record type."""

    run_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    record_type = models.CharField(max_length=20, choices=RecordType.choices)
    action = models.CharField(max_length=10, choices=PurgeAction.choices)
    count = models.PositiveIntegerField()
    held_back = models.PositiveIntegerField(
        default=0, help_text="Rows past retention kept because a legal hold reaches them."
    )
    policy = models.ForeignKey(
        RetentionPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_days = models.PositiveIntegerField(help_text="The policy's duration at the time.")
    effective_days = models.PositiveIntegerField(
        help_text="The duration applied: the policy's, or a framework's minimum if longer."
    )
    cutoff = models.DateTimeField(help_text="Rows dated before this were past retention.")
    oldest = models.DateTimeField(null=True, blank=True)
    newest = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    origin = models.CharField(max_length=120, help_text="web, task:<name> or command:<name>")
    run_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    anchor_hash = models.CharField(
        max_length=64, blank=True, help_text="Audit entries: the chain's new anchor."
    )
    anchor_entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="purgereceipt_org")]

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "purge"
        return f"{kind}: {self.count} {self.get_record_type_display().lower()}"


class AnonymisedIncident(OrgOwned):
    """Marks an incident the purge has anonymised, so the next run leaves it alone."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="+")
    anonymised_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"anonymised incident {self.incident_id}"
