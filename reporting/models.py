"""Scheduled executive reports: per-organisation schedules that render the executive PDF for the
last full week or month and e-mail it, and the stored reports themselves."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from tenancy.models import OrgOwned, User


class ReportSchedule(OrgOwned):
    """When to send an organisation's executive report, and to whom. `next_run_at` is the
    deadline the sweeper claims (SELECT … FOR UPDATE SKIP LOCKED); it is computed from the
    weekday or day of month and the hour in the organisation's time zone."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly (the last full week, Monday to Sunday)"
        MONTHLY = "monthly", "Monthly (the last full month)"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    name = models.CharField(max_length=120)
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, null=True, blank=True, help_text="For a weekly report."
    )
    day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1–28, for a monthly report."
    )
    hour = models.PositiveSmallIntegerField(
        default=8, help_text="0–23, in the organisation's time zone."
    )
    members = models.ManyToManyField(
        User, blank=True, related_name="+", verbose_name="member recipients"
    )
    emails = models.JSONField(
        default=list, blank=True, help_text="Outside e-mail addresses that receive the report."
    )
    is_enabled = models.BooleanField("enabled", default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="schedule_hour_0_23"),
            models.CheckConstraint(
                condition=models.Q(frequency="weekly", weekday__lte=6, day_of_month__isnull=True)
                | models.Q(
                    frequency="monthly",
                    weekday__isnull=True,
                    day_of_month__gte=1,
                    day_of_month__lte=28,
                ),
                name="schedule_weekday_or_day_of_month",
            ),
            models.UniqueConstraint(fields=["organization", "name"], name="schedule_unique_name"),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(is_enabled=True),
                name="schedule_due",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ExecutiveReport(OrgOwned):
    """One rendered executive report for one period, its PDF stored in the database. At most
    one scheduled report per schedule and period; "Generate now" writes manual ones."""

    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="The last day of the period, included.")
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the schedule's task generated it.",
    )
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-generated_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=models.Q(schedule__isnull=False, generated_by__isnull=True),
                name="executive_report_once_per_scheduled_period",
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="executive_report_period_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-generated_at"], name="executive_org_generated")
        ]

    def __str__(self) -> str:
        return f"Executive report {self.period_start} – {self.period_end}"

    @property
    def filename(self) -> str:
        return f"executive-report-{self.period_start:%Y-%m-%d}-{self.period_end:%Y-%m-%d}.pdf"


# — daily roll-ups ——————————————————————————————————————————————————————————————————————
# Written and read with SQL by reporting/rollups.py (see its docstring); never audited.


class RollupDay(models.Model):
    """A day (in the organisation's time zone) whose roll-up rows are built. A day counts as
    covered while it is built and has no `RollupDirty` row."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "day"], name="rollup_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}"


class RollupDirty(models.Model):
    """A day something it counts has changed since it was built; written by database
    triggers (migration 0002), one row per writing statement — no unique key, so a writer
    never waits on another — and deleted by the builder when it rebuilds the day."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["organization", "day"], name="rollup_dirty_day")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} (dirty)"


class Rollup(models.Model):
    """One day's KPI sums for one slice: every incident (`fkind` 0), or those of one severity
    (1), category (2), service (3: primary or affected) or team (4: owning or involved) —
    `fvalue` is that row's id — split by `counted` (the metrics' exclusion rule). Durations are
    microseconds; the arrays keep each one so a period's median is exact."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    counted = models.BooleanField()
    restricted = models.BooleanField(default=False)
    fkind = models.PositiveSmallIntegerField()
    fvalue = models.IntegerField()
    volume = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    alert = models.IntegerField(default=0)
    ack_n = models.IntegerField(default=0)
    ack_sum = models.BigIntegerField(default=0)
    ack_all = ArrayField(models.BigIntegerField(), default=list)
    repair_n = models.IntegerField(default=0)
    repair_sum = models.BigIntegerField(default=0)
    repair_all = ArrayField(models.BigIntegerField(), default=list)
    pm_required = models.IntegerField(default=0)
    pm_published = models.IntegerField(default=0)
    pm_on_time = models.IntegerField(default=0)
    sla_acknowledge_met = models.IntegerField(default=0)
    sla_acknowledge_breached = models.IntegerField(default=0)
    sla_mitigate_met = models.IntegerField(default=0)
    sla_mitigate_breached = models.IntegerField(default=0)
    sla_resolve_met = models.IntegerField(default=0)
    sla_resolve_breached = models.IntegerField(default=0)
    cadence_total = models.IntegerField(default=0)
    cadence_on_time = models.IntegerField(default=0)
    ai_due = models.IntegerField(default=0)
    ai_done = models.IntegerField(default=0)
    ai_on_time = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "fkind", "fvalue", "day"], name="rollup_slice")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.fkind}:{self.fvalue}"


class RollupBar(models.Model):
    """One day's incidents reported, per slice (as `Rollup`) and per bar: severity (1),
    category (2, null = none), service (3), team (4) or primary service (5, with the first and
    last reported time, for the mean time between incidents)."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    counted = models.BooleanField()
    restricted = models.BooleanField(default=False)
    fkind = models.PositiveSmallIntegerField()
    fvalue = models.IntegerField()
    bkind = models.PositiveSmallIntegerField()
    bvalue = models.IntegerField(null=True)
    count = models.IntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "fkind", "fvalue", "day"], name="rollup_bar_slice")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.fkind}:{self.fvalue} {self.bkind}"


class ExposureFigure(OrgOwned):
    """How much an organisation (service empty) or one of its services was exposed to trouble in
    one week — requests, deploys, orders — entered by hand or posted to the exposure feed. The
    comparison page divides incident counts by it. `week` is always a Monday; the unit is per
    row, and figures are only ever added up with others of the same unit."""

    service = models.ForeignKey(
        "taxonomy.Service",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty for a figure of the whole organisation.",
    )
    week = models.DateField(help_text="The Monday the week starts on.")
    value = models.DecimalField(max_digits=20, decimal_places=2)
    unit = models.CharField(max_length=40, help_text="What is counted, e.g. “requests”.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-week", "service__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "service", "week"],
                nulls_distinct=False,
                name="exposure_once_per_service_week",
            ),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="exposure_not_negative"),
            models.CheckConstraint(
                # PostgreSQL: ISO day of week 1 = Monday.
                condition=models.Q(week__iso_week_day=1),
                name="exposure_week_is_monday",
            ),
        ]

    def __str__(self) -> str:
        where = self.service.name if self.service_id else "organisation"
        return f"{where}, week of {self.week}: {self.value} {self.unit}"


class ExposureFeedToken(OrgOwned):
    """The bearer token a machine uses to post exposure figures. Only its sha256 is stored,
    with the token's first characters (`prefix`) to find the row; shown once when generated.
    At most one live (unrevoked) token per organisation: regenerating revokes the old one."""

    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(revoked_at__isnull=True),
                name="exposure_token_one_live_per_org",
            )
        ]

    def __str__(self) -> str:
        return f"Exposure feed token {self.prefix}…"
