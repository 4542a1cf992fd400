"""Regulatory frameworks and obligations as data, the regulatory facts of an incident, and
each obligation's clock on each incident it applies to.

A framework (GDPR, HIPAA, SEC, DORA, NIS2, SOX) is seeded per organisation and can be switched
off; its obligations say what triggers them (a fact on the incident, or a regulatory custom
field), when their clock starts, how long it runs (hours, calendar days, business days,
months, or no external deadline), who receives the notice and in which report format. An
`IncidentObligation` is one obligation on one incident: its deadline, the reminders at 50 % and
80 % of the window and the escalation when it is missed (durable deadlines: the sweeper claims
rows whose `next_fire_at` is due), and whether the notice was drafted or submitted, by whom."""

from django.db import models
from django.utils import timezone

from incidents.models import Incident
from tenancy.models import OrgOwned, User


class FrameworkKey(models.TextChoices):
    GDPR = "gdpr", "GDPR"
    HIPAA = "hipaa", "HIPAA"
    SEC = "sec", "SEC"
    DORA = "dora", "DORA"
    NIS2 = "nis2", "NIS2"
    SOX = "sox", "SOX"


class RecordType(models.TextChoices):
    """What a retention policy (and a framework's retention minimum) is about."""

    INCIDENTS = "incidents", "Incidents"
    ALERTS = "alerts", "Alerts and raw payloads"
    AUDIT_ENTRIES = "audit_entries", "Audit entries"
    REPORTS = "reports", "Regulatory reports"


class Framework(OrgOwned):
    key = models.CharField(max_length=10, choices=FrameworkKey.choices)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Only enabled frameworks raise obligations on incidents."
    )
    retention_minimums = models.JSONField(
        default=dict,
        blank=True,
        help_text="Years each record type must be kept while this framework is enabled, "
        'e.g. {"audit_entries": 7}.',
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="framework_unique_key")
        ]

    def __str__(self) -> str:
        return self.name


class Trigger(models.TextChoices):
    """Facts on `IncidentFacts` that raise obligations ("custom:<key>" names a regulatory
    custom field instead)."""

    PERSONAL_DATA_BREACH = "personal_data_breach", "Personal-data breach"
    HIGH_RISK_TO_SUBJECTS = "high_risk_to_subjects", "High risk to data subjects"
    PHI_BREACH = "phi_breach", "Breach of protected health information"
    PHI_BREACH_OVER_500 = "phi_breach_over_500", "PHI breach, > 500 residents of a state"
    MATERIAL = "material", "Material cybersecurity incident"
    MAJOR_ICT = "major_ict", "Major ICT-related incident (DORA)"
    SIGNIFICANT = "significant", "Significant incident (NIS2)"
    FINANCIAL_SYSTEM = "financial_system", "Touches an in-scope financial system (SOX)"


class ClockStart(models.TextChoices):
    AWARE = "aware", "Awareness (the organisation became aware)"
    DETECTED = "detected", "Discovery (detected)"
    MATERIALITY = "materiality", "Materiality determination"
    CLASSIFIED = "classified", "Classification as major"
    RESOLVED = "resolved", "Resolution"
    PREVIOUS_SUBMITTED = "previous_submitted", "Submission of the previous notice"


class DeadlineUnit(models.TextChoices):
    HOURS = "hours", "hours"
    CALENDAR_DAYS = "calendar_days", "calendar days"
    BUSINESS_DAYS = "business_days", "business days"
    MONTHS = "months", "months"
    NONE = "none", "no external deadline"


class ReportFormat(models.TextChoices):
    NONE = "", "No report"
    GDPR_ART33 = "gdpr_art33", "GDPR Art. 33 notification to the supervisory authority"
    GDPR_ART34 = "gdpr_art34", "GDPR Art. 34 communication to data subjects"
    HIPAA_BREACH = "hipaa_breach", "HIPAA breach report"
    SEC_8K = "sec_8k", "SEC Form 8-K Item 1.05 draft"
    DORA_INITIAL = "dora_initial", "DORA initial notification"
    DORA_INTERMEDIATE = "dora_intermediate", "DORA intermediate report"
    DORA_FINAL = "dora_final", "DORA final report"
    NIS2_EARLY_WARNING = "nis2_early_warning", "NIS2 early warning"
    NIS2_NOTIFICATION = "nis2_notification", "NIS2 incident notification"
    NIS2_FINAL = "nis2_final", "NIS2 final report"
    SOX_EVIDENCE = "sox_evidence", "SOX incident evidence pack (internal)"


class Obligation(OrgOwned):
    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="obligations")
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=160)
    reference = models.CharField(max_length=120, blank=True, help_text="e.g. GDPR Art. 33(1)")
    trigger = models.CharField(
        max_length=80,
        help_text="A fact on the incident (personal_data_breach, material, …) or "
        "custom:<key> for a regulatory custom field that reports something.",
    )
    clock_start = models.CharField(max_length=20, choices=ClockStart.choices)
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For “submission of the previous notice”: which notice.",
    )
    deadline_unit = models.CharField(max_length=16, choices=DeadlineUnit.choices)
    deadline_amount = models.PositiveIntegerField(default=0)
    latest_hours_after_awareness = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A second limit counted from awareness; the earlier of the two applies "
        "(DORA: 4 h after classification and at the latest 24 h after awareness).",
    )
    recipients = models.TextField(help_text="Who receives the notice, one per line.")
    report_format = models.CharField(
        max_length=24, choices=ReportFormat.choices, blank=True, default=ReportFormat.NONE
    )
    field_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Report section → the fields that feed it, e.g. {"Nature of the breach": '
        '["incident.description", "facts.data_categories", "custom:records"]}.',
    )
    guidance = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["framework__key", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="obligation_unique_key")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rule_text(self) -> str:
        if self.deadline_unit == DeadlineUnit.NONE:
            return "no external deadline"
        text = f"{self.deadline_amount} {self.get_deadline_unit_display()} after "
        text += self.get_clock_start_display().split(" (")[0].lower()
        if self.latest_hours_after_awareness:
            text += f", at the latest {self.latest_hours_after_awareness} h after awareness"
        return text


class IncidentFacts(OrgOwned):
    """What compliance needs to know about an incident that the lifecycle does not record."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="regulatory_facts"
    )
    aware_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the organisation became aware; the incident's report time if empty.",
    )
    personal_data_breach = models.BooleanField("personal-data breach", default=False)
    high_risk_to_subjects = models.BooleanField("high risk to data subjects", default=False)
    subjects_affected = models.PositiveIntegerField(
        "data subjects affected (approx.)", null=True, blank=True
    )
    data_categories = models.TextField("categories of personal data", blank=True)
    phi_breach = models.BooleanField("protected health information breached", default=False)
    residents_most_in_one_state = models.PositiveIntegerField(
        "residents affected in the most affected state", null=True, blank=True
    )
    material = models.BooleanField("material (SEC)", default=False)
    materiality_determined_at = models.DateTimeField(null=True, blank=True)
    major_ict = models.BooleanField("major ICT-related incident (DORA)", default=False)
    classified_at = models.DateTimeField("classified as major at", null=True, blank=True)
    significant = models.BooleanField("significant incident (NIS2)", default=False)
    financial_system = models.BooleanField(
        "touches an in-scope financial system (SOX)", default=False
    )
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "incident facts"

    def __str__(self) -> str:
        return f"regulatory facts of {self.incident_id}"

    @property
    def phi_breach_over_500(self) -> bool:
        return self.phi_breach and (self.residents_most_in_one_state or 0) > 500


class ObligationStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    DRAFTED = "drafted", "Drafted"
    SUBMITTED = "submitted", "Submitted"
    WITHDRAWN = "withdrawn", "No longer applies"


class IncidentObligation(OrgOwned):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="obligations")
    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=12, choices=ObligationStatus.choices, default=ObligationStatus.NOT_STARTED
    )
    clock_started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    remind_50_at = models.DateTimeField(null=True, blank=True)
    remind_80_at = models.DateTimeField(null=True, blank=True)
    reminded_50_at = models.DateTimeField(null=True, blank=True)
    reminded_80_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    next_fire_at = models.DateTimeField(null=True, blank=True)
    drafted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submission_reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "obligation"], name="incident_obligation_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_fire_at"],
                name="incobligation_next_fire",
                condition=models.Q(next_fire_at__isnull=False),
            ),
            models.Index(fields=["organization", "status", "due_at"], name="incobligation_org"),
        ]

    def __str__(self) -> str:
        return f"{self.obligation} on {self.incident_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (ObligationStatus.NOT_STARTED, ObligationStatus.DRAFTED)


class AuditChain(OrgOwned):
    """Per organisation: where its audit hash chain starts (the hash of the last entry the
    retention purge removed, empty for the genesis) and the last verification's outcome."""

    anchor_hash = models.CharField(max_length=64, blank=True)
    anchor_entry_id = models.BigIntegerField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verified_ok = models.BooleanField(null=True)
    last_verified_count = models.PositiveBigIntegerField(default=0)
    first_broken_entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="auditchain_one_per_org")
        ]

    def __str__(self) -> str:
        return f"audit chain of {self.organization_id}"


class Unmask(OrgOwned):
    """A privileged reader's audited reveal of one incident's masked data (sensitive custom
    fields and personal data in its text) for a short window. Masked is the default for
    everybody; a member whose role may view sensitive data reveals one incident at a time,
    with an optional reason, and every surface (pages, exports, PDFs, e-mails to them) shows
    that incident unmasked to them until `expires_at`. Rows are the evidence: who, which
    incident, when, why; the audit trail logs each one."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "incident", "-expires_at"], name="unmask_user_incident"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gte=models.F("created_at")),
                name="unmask_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} revealed {self.incident} until {self.expires_at:%H:%M}"
