"""Regulatory reports: immutable, versioned PDFs of one incident in one report format, and the
distribution lists they are e-mailed to.

A `Report` is written once and never changed: PostgreSQL refuses UPDATE and DELETE on its table
(migration 0002) unless the retention routine opens `tenancy.audit.retention_gate()`.
Regenerating writes a new row with the next version of its series (incident, obligation,
format). `content_hash` is the sha256 of the report's canonical content (compliance/reports/
content.py says exactly what is hashed); it is printed in the footer of every page with the
version. `pdf_sha256` is the hash of the stored file itself."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from compliance.models import Framework, IncidentObligation, Obligation, ReportFormat
from incidents.models import Delivery, Incident
from tenancy.models import OrgOwned, User


class ImmutableReport(ValidationError):
    pass


class Report(OrgOwned):
    """One generated version of one regulatory report, with its PDF stored in the database."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    obligation = models.ForeignKey(
        Obligation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for an ad-hoc report.",
    )
    format = models.CharField(max_length=24, choices=ReportFormat.choices)
    version = models.PositiveIntegerField(editable=False)
    generated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    generated_at = models.DateTimeField(default=timezone.now)
    revealed = models.BooleanField(
        default=False, help_text="Personal data and sensitive values shown unmasked."
    )
    content_hash = models.CharField(max_length=64, help_text="sha256 of the canonical content.")
    pdf = models.BinaryField()
    pdf_sha256 = models.CharField(max_length=64)
    pdf_size = models.PositiveIntegerField(default=0)
    missing_fields = models.JSONField(
        default=list, blank=True, help_text="What the report marked “not yet known”."
    )

    class Meta:
        ordering = ["-generated_at", "-pk"]
        constraints = [
            # One version number per series; the obligation may be empty (ad-hoc), and an
            # empty obligation is one series, not many.
            models.UniqueConstraint(
                fields=["incident", "obligation", "format", "version"],
                name="report_version_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="report_version_gte_1"),
            models.CheckConstraint(condition=~models.Q(format=""), name="report_has_format"),
        ]
        indexes = [
            models.Index(fields=["organization", "-generated_at"], name="report_org_generated"),
            models.Index(fields=["incident", "obligation", "-version"], name="report_series"),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} for {self.incident_id}, v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableReport("A generated report cannot be changed; generate a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableReport("A generated report cannot be deleted (retention purges it).")

    @property
    def filename(self) -> str:
        return f"{self.incident.key}-{self.format}-v{self.version}.pdf"

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]

    def incident_obligation(self) -> IncidentObligation | None:
        if self.obligation_id is None:
            return None
        return IncidentObligation.objects.filter(
            incident_id=self.incident_id, obligation_id=self.obligation_id
        ).first()


class DistributionList(OrgOwned):
    """Named people who receive regulatory reports by e-mail; optionally the default list of
    one framework."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    default_for = models.ForeignKey(
        Framework,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="default for framework",
        help_text="Offered first when sending this framework's reports.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="distributionlist_unique_name"
            ),
            models.UniqueConstraint(
                fields=["organization", "default_for"],
                condition=models.Q(default_for__isnull=False),
                name="distributionlist_one_default_per_framework",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DistributionRecipient(OrgOwned):
    """One person on a distribution list: a member of the organisation, or an outside e-mail
    address with a name."""

    distribution_list = models.ForeignKey(
        DistributionList, on_delete=models.CASCADE, related_name="recipients"
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False, email="", name=""))
                | (models.Q(user__isnull=True) & ~models.Q(email="") & ~models.Q(name="")),
                name="recipient_member_or_named_address",
            ),
            models.UniqueConstraint(
                fields=["distribution_list", "user"],
                condition=models.Q(user__isnull=False),
                name="recipient_member_once",
            ),
            models.UniqueConstraint(
                fields=["distribution_list", "email"],
                condition=~models.Q(email=""),
                name="recipient_address_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.address}>"

    @property
    def display_name(self) -> str:
        return self.user.display_name if self.user_id else self.name

    @property
    def address(self) -> str:
        return self.user.email if self.user_id else self.email

    @property
    def is_member(self) -> bool:
        return self.user_id is not None


class ReportDistribution(OrgOwned):
    """One sending of one report version: who sent it, when, through which list, to whom (a
    snapshot, so later edits of the list do not rewrite history)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="distributions")
    distribution_list = models.ForeignKey(
        DistributionList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    list_name = models.CharField(max_length=120)
    sent_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.JSONField(
        default=list,
        help_text='[{"name": …, "email": …, "member": bool, "delivery": id}, or '
        '{"name": …, "reason": …, "skipped": true}]',
    )

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.report} to {self.list_name}"

    def deliveries(self) -> dict[int, Delivery]:
        ids = [r["delivery"] for r in self.recipients if r.get("delivery")]
        return {d.pk: d for d in Delivery.objects.filter(pk__in=ids)}
