"""How an organisation classifies incidents: categories, services, severity levels with their
objective criteria, escalation paths, classification rules and custom fields."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

from tenancy.models import OrgOwned, Team, User
from tenancy.roles import Role


class OrgSettings(OrgOwned):
    """Per-organisation switches for classification and ownership disputes."""

    class ClassificationMode(models.TextChoices):
        STATIC = "static", "Static rules only"
        ASSISTED = "assisted", "Assisted: also learn from our closed incidents"

    classification_mode = models.CharField(
        max_length=10, choices=ClassificationMode.choices, default=ClassificationMode.STATIC
    )
    alerts_resolve_mitigates = models.BooleanField(
        "resolved alerts mitigate",
        default=False,
        help_text="When every alert of an investigating incident resolves, move it to mitigated.",
    )
    ownership_escalation_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="An unanswered ownership request goes to the managers after this long.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="orgsettings_one")]
        verbose_name = "organisation settings"
        verbose_name_plural = "organisation settings"

    def __str__(self) -> str:
        return "Settings"


class Category(OrgOwned):
    """An operational domain (network, database, …), optionally nested one level."""

    name = models.CharField(max_length=80)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    description = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="category_name_unique_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} › {self.name}" if self.parent_id else self.name

    def clean(self):
        self.check_same_organization(parent=self.parent)
        if self.parent_id:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": "A category cannot be its own parent."})
            if self.parent.parent_id:
                raise ValidationError({"parent": "Categories nest one level only."})
            if self.pk and type(self)._base_manager.filter(parent_id=self.pk).exists():
                raise ValidationError({"parent": "This category has sub-categories of its own."})


class Service(OrgOwned):
    """Something the organisation runs, with the team that owns it."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    tier = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text="1 = business-critical, 3 = internal tooling.",
    )
    owning_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contributing_teams = models.ManyToManyField(Team, blank=True, related_name="+")
    health_check_url = models.URLField(
        blank=True, help_text="GET by automated verification; 2xx means healthy."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["tier", "name"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="service_name_unique_per_org"
            ),
            models.CheckConstraint(condition=models.Q(tier__in=[1, 2, 3]), name="service_tier"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        self.check_same_organization(owning_team=self.owning_team)


class SeverityLevel(OrgOwned):
    """Sev-1 (strongest) … Sev-4 with the objective criteria that propose it.

    A level is proposed when the incident meets its visibility requirement and at least one of
    its thresholds; the strongest such level wins (see taxonomy.assessment)."""

    level = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    name = models.CharField(max_length=30)
    description = models.CharField(max_length=300, blank=True)
    requires_customer_visible = models.BooleanField(
        default=False, help_text="Only proposed when customers can see the problem."
    )
    min_users_affected_pct = models.DecimalField(
        "users affected from (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    min_downtime_minutes = models.PositiveIntegerField("downtime from (min)", null=True, blank=True)
    on_revenue_at_risk = models.BooleanField("revenue at risk", default=False)
    on_data_at_risk = models.BooleanField("data at risk", default=False)
    on_regulatory_exposure = models.BooleanField("regulatory exposure", default=False)

    class Meta:
        ordering = ["level"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "level"], name="severity_level_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_major(self) -> bool:
        """Sev-1 and Sev-2 need a commander before investigation starts."""
        return self.level <= 2


class EscalationPath(OrgOwned):
    """Who is notified, and after how long, for incidents of one severity (and optionally one
    category). A path serves exactly one severity, so a Sev-3 never pages the Sev-1 path."""

    name = models.CharField(max_length=100)
    severity = models.ForeignKey(SeverityLevel, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["severity__level", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "severity", "category"],
                name="escalation_path_per_severity_category",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        self.check_same_organization(
            severity=self.severity if self.severity_id else None,
            category=self.category if self.category_id else None,
        )


class EscalationStep(OrgOwned):
    """One step of a path: after `delay_minutes`, notify a team, everyone of a role, or a user —
    or page an outside service (`integration_target`: a PagerDuty service's public id; the
    integrations app resolves it through `taxonomy.registry.step_targets`)."""

    class TargetKind(models.TextChoices):
        TEAM = "team", "Team"
        ROLE = "role", "Everyone with a role"
        USER = "user", "A person"
        PAGERDUTY = "pagerduty", "PagerDuty service"

    path = models.ForeignKey(EscalationPath, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    delay_minutes = models.PositiveIntegerField(default=0)
    target_kind = models.CharField(max_length=10, choices=TargetKind.choices)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    integration_target = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["path", "position"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(target_kind="team", team__isnull=False)
                    | models.Q(target_kind="role") & ~models.Q(role="")
                    | models.Q(target_kind="user", user__isnull=False)
                    | models.Q(target_kind="pagerduty") & ~models.Q(integration_target="")
                ),
                name="escalation_step_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"after {self.delay_minutes} min: {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.target_kind == self.TargetKind.TEAM:
            return f"team {self.team}"
        if self.target_kind == self.TargetKind.ROLE:
            return f"every {self.get_role_display().lower()}"
        if self.target_kind == self.TargetKind.PAGERDUTY:
            from taxonomy.registry import step_target_label

            return step_target_label(self)
        return str(self.user)

    def clean(self):
        self.check_same_organization(
            path=self.path if self.path_id else None, team=self.team if self.team_id else None
        )
        kind = self.target_kind
        if kind == self.TargetKind.TEAM and not self.team_id:
            raise ValidationError({"team": "Choose the team to notify."})
        if kind == self.TargetKind.ROLE and not self.role:
            raise ValidationError({"role": "Choose the role to notify."})
        if kind == self.TargetKind.USER and not self.user_id:
            raise ValidationError({"user": "Choose the person to notify."})
        if kind == self.TargetKind.PAGERDUTY and not self.integration_target:
            raise ValidationError({"integration_target": "Choose the PagerDuty service to page."})


class ClassificationRule(OrgOwned):
    """An ordered static rule: when an incident's text, service or source labels match, it sets
    category, severity, service and owning team. The first matching rule wins."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    match_text = models.CharField(
        max_length=200,
        blank=True,
        help_text="Words that must all appear in the title or description (case-insensitive).",
    )
    match_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    match_labels = models.JSONField(
        default=dict, blank=True, help_text='Source labels that must match, e.g. {"team": "db"}.'
    )
    set_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_severity = models.ForeignKey(
        SeverityLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        self.check_same_organization(
            match_service=self.match_service,
            set_category=self.set_category,
            set_severity=self.set_severity,
            set_service=self.set_service,
            set_team=self.set_team,
        )
        if not (self.match_text.strip() or self.match_service_id or self.match_labels):
            raise ValidationError("A rule needs at least one condition (text, service or labels).")
        if not (
            self.set_category_id or self.set_severity_id or self.set_service_id or self.set_team_id
        ):
            raise ValidationError(
                "A rule must set at least one of category, severity, service, team."
            )
        if not isinstance(self.match_labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.match_labels.items()
        ):
            raise ValidationError(
                {"match_labels": 'Labels are a JSON object of strings, e.g. {"env": "prod"}.'}
            )


# The lifecycle states, in order, from which a custom field can become mandatory. The state
# machine itself lives in incidents.lifecycle, which checks it agrees with this list.
REQUIRABLE_STATES = [
    ("investigating", "Investigating"),
    ("mitigated", "Mitigated"),
    ("resolved", "Resolved"),
    ("closed", "Closed"),
]

key_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,49}$", "Lower-case letters, digits and _, starting with a letter."
)


class CustomFieldDefinition(OrgOwned):
    """An extra fact an organisation records on its incidents (stored in Incident.custom_fields)."""

    class FieldType(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Yes/no"
        CHOICE = "choice", "Choice"
        DATE = "date", "Date"
        USER = "user", "Person"

    key = models.CharField(max_length=50, validators=[key_validator])
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=FieldType.choices)
    choices = models.JSONField(default=list, blank=True, help_text="For choice fields.")
    required_from = models.CharField(
        "mandatory from state",
        max_length=20,
        blank=True,
        choices=REQUIRABLE_STATES,
        help_text="Required to enter this lifecycle state and every later one.",
    )
    help_text = models.CharField(max_length=200, blank=True)
    is_regulatory = models.BooleanField("regulatory", default=False)
    is_sensitive = models.BooleanField(
        "sensitive", default=False, help_text="Masked for people without view-sensitive access."
    )
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="custom_field_key_unique"),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self):
        if self.field_type == self.FieldType.CHOICE:
            if (
                not isinstance(self.choices, list)
                or not self.choices
                or not all(isinstance(c, str) and c.strip() for c in self.choices)
            ):
                raise ValidationError({"choices": "A choice field needs a list of options."})
            if len(set(self.choices)) != len(self.choices):
                raise ValidationError({"choices": "Options must differ from each other."})
        elif self.choices:
            raise ValidationError({"choices": "Only choice fields have options."})
