"""Incident forms: validation only. Every choice list is this organisation's (set per request)."""

from decimal import Decimal

from django import forms
from django_scopes.forms import SafeModelChoiceField, SafeModelMultipleChoiceField

from config import limits
from incidents.models import Incident
from taxonomy.models import Category, CustomFieldDefinition, Service, SeverityLevel
from tenancy.models import Membership, Organization, Team, User

FieldType = CustomFieldDefinition.FieldType


def org_members(organization: Organization):
    members = Membership.objects.filter(organization=organization).values("user_id")
    return User.objects.filter(pk__in=members, is_active=True).order_by("full_name", "email")


class UserChoiceField(SafeModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


def custom_form_field(definition: CustomFieldDefinition, organization) -> forms.Field:
    common = {"label": definition.label, "required": False, "help_text": definition.help_text}
    kind = definition.field_type
    if kind == FieldType.NUMBER:
        return forms.DecimalField(**common)
    if kind == FieldType.BOOLEAN:
        return forms.NullBooleanField(
            widget=forms.Select(choices=[("", "—"), ("true", "Yes"), ("false", "No")]), **common
        )
    if kind == FieldType.CHOICE:
        return forms.ChoiceField(
            choices=[("", "—"), *[(c, c) for c in definition.choices]], **common
        )
    if kind == FieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == FieldType.USER:
        field = UserChoiceField(queryset=User.objects.none(), **common)
        field.queryset = org_members(organization)
        return field
    return forms.CharField(max_length=2000, **common)


class CustomFieldsMixin:
    """Adds one form field per active custom field definition, named `cf_<key>`."""

    def add_custom_fields(self, organization, incident: Incident | None = None):
        self.custom_definitions = list(
            CustomFieldDefinition.objects.filter(organization=organization, is_active=True)
        )
        for definition in self.custom_definitions:
            name = f"cf_{definition.key}"
            self.fields[name] = custom_form_field(definition, organization)
            if incident is not None and definition.key in incident.custom_fields:
                value = incident.custom_fields[definition.key]
                if definition.field_type == FieldType.BOOLEAN:
                    value = "true" if value else "false"
                self.initial[name] = value

    def custom_values(self) -> dict:
        values = {}
        for definition in self.custom_definitions:
            value = self.cleaned_data.get(f"cf_{definition.key}")
            if isinstance(value, User):
                value = value.pk
            if isinstance(value, Decimal):
                value = str(value)
            values[definition.key] = value
        return values

    def custom_bound_fields(self):
        return [self[f"cf_{d.key}"] for d in self.custom_definitions]


class IncidentCreateForm(CustomFieldsMixin, forms.Form):
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autofocus": True}))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=limits.LONG_TEXT
    )
    # The severity assessment (objective questions that propose a severity).
    customer_visible = forms.BooleanField(label="Customers can see the problem", required=False)
    users_affected_pct = forms.DecimalField(
        label="Share of users affected (%)",
        min_value=0,
        max_value=100,
        required=False,
        decimal_places=2,
        initial=0,
    )
    downtime_minutes = forms.IntegerField(
        label="Downtime so far or expected (minutes)",
        min_value=0,
        max_value=525_600,
        required=False,
        initial=0,
    )
    revenue_at_risk = forms.BooleanField(label="Revenue at risk", required=False)
    data_at_risk = forms.BooleanField(label="Data at risk (loss, leak, corruption)", required=False)
    regulatory_exposure = forms.BooleanField(label="Regulatory exposure", required=False)
    severity = SafeModelChoiceField(
        queryset=SeverityLevel.objects.none(),
        required=False,
        empty_label="Use the assessment's proposal",
    )
    override_reason = forms.CharField(
        label="Why a different severity than proposed", required=False, max_length=500
    )
    category = SafeModelChoiceField(queryset=Category.objects.none(), required=False)
    primary_service = SafeModelChoiceField(queryset=Service.objects.none(), required=False)
    affected_services = SafeModelMultipleChoiceField(
        queryset=Service.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    owning_team = SafeModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        empty_label="The primary service's owner",
    )
    commander = UserChoiceField(queryset=User.objects.none(), required=False)
    kind = forms.ChoiceField(choices=Incident.Kind.choices, initial=Incident.Kind.REAL)
    is_restricted = forms.BooleanField(
        label="Restricted (security breach, executive systems)", required=False
    )
    detected_at = forms.DateTimeField(
        label="Detected at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for now. In the organisation's time zone.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["severity"].queryset = SeverityLevel.objects.filter(organization=organization)
        self.fields["category"].queryset = Category.objects.filter(
            organization=organization, is_active=True
        )
        services = Service.objects.filter(organization=organization, is_active=True)
        self.fields["primary_service"].queryset = services
        self.fields["affected_services"].queryset = services
        self.fields["owning_team"].queryset = Team.objects.filter(organization=organization)
        self.fields["commander"].queryset = org_members(organization)
        self.add_custom_fields(organization)

    def assessment_fields(self):
        return [
            self[n]
            for n in (
                "customer_visible",
                "users_affected_pct",
                "downtime_minutes",
                "revenue_at_risk",
                "data_at_risk",
                "regulatory_exposure",
            )
        ]

    def answers(self):
        from taxonomy.assessment import Answers

        data = self.cleaned_data
        return Answers(
            customer_visible=bool(data.get("customer_visible")),
            users_affected_pct=data.get("users_affected_pct") or Decimal(0),
            downtime_minutes=data.get("downtime_minutes") or 0,
            revenue_at_risk=bool(data.get("revenue_at_risk")),
            data_at_risk=bool(data.get("data_at_risk")),
            regulatory_exposure=bool(data.get("regulatory_exposure")),
        )


class IncidentUpdateForm(CustomFieldsMixin, forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=limits.LONG_TEXT
    )
    category = SafeModelChoiceField(queryset=Category.objects.none(), required=False)
    primary_service = SafeModelChoiceField(queryset=Service.objects.none(), required=False)
    affected_services = SafeModelMultipleChoiceField(
        queryset=Service.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    owning_team = SafeModelChoiceField(queryset=Team.objects.none(), required=False)
    involved_teams = SafeModelMultipleChoiceField(
        queryset=Team.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    commander = UserChoiceField(queryset=User.objects.none(), required=False)
    kind = forms.ChoiceField(choices=Incident.Kind.choices)
    impact_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=limits.LONG_TEXT
    )
    resolution_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=limits.LONG_TEXT
    )
    root_cause_category = forms.ChoiceField(
        choices=[("", "—"), *Incident.RootCause.choices], required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, organization, incident: Incident, **kwargs):
        initial = {
            "title": incident.title,
            "description": incident.description,
            "category": incident.category_id,
            "primary_service": incident.primary_service_id,
            "affected_services": [s.pk for s in incident.affected_services.all()],
            "owning_team": incident.owning_team_id,
            "involved_teams": [t.pk for t in incident.involved_teams.all()],
            "commander": incident.commander_id,
            "kind": incident.kind,
            "impact_summary": incident.impact_summary,
            "resolution_summary": incident.resolution_summary,
            "root_cause_category": incident.root_cause_category,
            "version": incident.version,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(organization=organization)
        services = Service.objects.filter(organization=organization)
        self.fields["primary_service"].queryset = services
        self.fields["affected_services"].queryset = services
        teams = Team.objects.filter(organization=organization)
        self.fields["owning_team"].queryset = teams
        self.fields["involved_teams"].queryset = teams
        self.fields["commander"].queryset = org_members(organization)
        self.add_custom_fields(organization, incident)

    def changes(self, *, include_custom: bool = True) -> dict:
        data = self.cleaned_data
        names = [
            "title",
            "description",
            "category",
            "primary_service",
            "owning_team",
            "commander",
            "kind",
            "impact_summary",
            "resolution_summary",
            "root_cause_category",
            "affected_services",
            "involved_teams",
        ]
        changes = {name: data[name] for name in names}
        if include_custom:
            changes["custom_fields"] = {
                k: v for k, v in self.custom_values().items() if v not in (None, "")
            }
        return changes


class SeverityChangeForm(forms.Form):
    severity = SafeModelChoiceField(queryset=SeverityLevel.objects.none())
    reason = forms.CharField(max_length=500)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].queryset = SeverityLevel.objects.filter(organization=organization)


class CommentForm(forms.Form):
    text = forms.CharField(
        label="Add to the timeline",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What did you find or do?"}),
    )


class ConfirmationRequestForm(forms.Form):
    confirmer = UserChoiceField(queryset=User.objects.none(), label="Who confirms the fix")
    note = forms.CharField(required=False, max_length=500, label="What should they check")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirmer"].queryset = org_members(organization)


class ConfirmationAnswerForm(forms.Form):
    passed = forms.TypedChoiceField(
        choices=[("yes", "It works"), ("no", "It still does not work")],
        coerce=lambda v: v == "yes",
    )
    note = forms.CharField(required=False, max_length=1000)


class OwnershipRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=[("take", "Take ownership"), ("handover", "Hand over")])
    to_team = SafeModelChoiceField(queryset=Team.objects.none(), label="Team")
    reason = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_team"].queryset = Team.objects.filter(organization=organization)


class OwnershipDecisionForm(forms.Form):
    accept = forms.TypedChoiceField(
        choices=[("yes", "Accept"), ("no", "Decline")], coerce=lambda v: v == "yes"
    )
    note = forms.CharField(required=False, max_length=500)


class AccessForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("grant", "grant"),
            ("revoke", "revoke"),
            ("restrict", "restrict"),
            ("unrestrict", "unrestrict"),
        ]
    )
    user = UserChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = org_members(organization)

    def clean(self):
        data = super().clean()
        if data.get("action") in ("grant", "revoke") and not data.get("user"):
            self.add_error("user", "Choose a person.")
        return data


BULK_ACTIONS = [
    ("assign_commander", "Assign commander"),
    ("change_severity", "Change severity"),
    ("add_team", "Add an involved team"),
    ("mark_duplicate", "Mark duplicate of"),
]


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    commander = UserChoiceField(queryset=User.objects.none(), required=False)
    severity = SafeModelChoiceField(queryset=SeverityLevel.objects.none(), required=False)
    team = SafeModelChoiceField(queryset=Team.objects.none(), required=False)
    primary = forms.CharField(required=False, label="Primary incident key", max_length=24)
    reason = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["commander"].queryset = org_members(organization)
        self.fields["severity"].queryset = SeverityLevel.objects.filter(organization=organization)
        self.fields["team"].queryset = Team.objects.filter(organization=organization)

    def clean(self):
        data = super().clean()
        needed = {
            "assign_commander": "commander",
            "change_severity": "severity",
            "add_team": "team",
            "mark_duplicate": "primary",
        }
        field = needed.get(data.get("action"))
        if field and not data.get(field):
            self.add_error(field, "Required for this action.")
        if data.get("action") == "change_severity" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the severity changes.")
        return data
