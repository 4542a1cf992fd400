"""Forms for the taxonomy settings pages. Validation only: the views hand the cleaned data to
taxonomy.services, which writes.

Choice fields over tenant rows start empty (django-scopes' Safe* fields) and get this
organisation's rows in __init__, so another organisation's pk is "not a valid choice"."""

import json

from django import forms
from django.db.models import Q
from django_scopes.forms import SafeModelChoiceField, SafeModelMultipleChoiceField

from config import limits
from taxonomy.models import (
    REQUIRABLE_STATES,
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    EscalationPath,
    EscalationStep,
    OrgSettings,
    Service,
    SeverityLevel,
)
from taxonomy.registry import step_target_choices
from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Role

TIER_CHOICES = [
    (1, "Tier 1 — business-critical"),
    (2, "Tier 2 — important"),
    (3, "Tier 3 — internal tooling"),
]


def _storable(text: str) -> bool:
    """Whether `text` can be stored in PostgreSQL and written as UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class LabelsField(forms.JSONField):
    """Source labels as a JSON object of strings, e.g. {"env": "prod"}; blank means none."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"})
        )
        kwargs.setdefault("max_length", limits.LABELS_JSON)
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise forms.ValidationError(
                    "This is not valid JSON (%(problem)s at line %(line)s, column %(column)s). "
                    'Write an object such as {"env": "prod"}.',
                    code="invalid",
                    params={"problem": error.msg, "line": error.lineno, "column": error.colno},
                ) from None
            except RecursionError:
                raise forms.ValidationError(
                    "This JSON is nested too deeply; labels are one flat object.", code="invalid"
                ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'Labels are a JSON object of name: value pairs, e.g. {"env": "prod"}.',
                code="invalid",
            )
        for name, label in value.items():
            if not _storable(name) or (isinstance(label, str) and not _storable(label)):
                # "\u0000" and lone surrogates ("\ud800") are valid JSON escapes, but neither
                # PostgreSQL nor the page that shows the form again can hold them.
                raise forms.ValidationError(
                    "Labels cannot contain NUL characters or unpaired surrogates (\\u0000, "
                    "\\ud800–\\udfff).",
                    code="invalid",
                )
            if not isinstance(label, str):
                raise forms.ValidationError(
                    "Label values must be strings: “%(name)s” is %(value)s. "
                    'Put it in quotes, e.g. "%(name)s": "%(text)s".',
                    code="invalid",
                    params={"name": name, "value": json.dumps(label), "text": label},
                )
        return value

    def bound_data(self, data, initial):
        """What was typed, as typed: Django's JSONField would decode it and write it back,
        and a decoded "\\ud800" cannot be written into the page."""
        if self.disabled:
            return initial
        return data

    def prepare_value(self, value):
        if value == {} or value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return super().prepare_value(value)


class LinesField(forms.Field):
    """A list of strings, typed one per line."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return list(value)
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value


def _org_members(organization: Organization):
    # User is not tenant-owned: filter by this organisation's memberships explicitly.
    member_ids = Membership.objects.filter(organization=organization).values("user_id")
    return User.objects.filter(pk__in=member_ids, is_active=True).order_by("full_name", "email")


class OrgModelForm(forms.ModelForm):
    """A model form for one organisation's row: sets the (non-editable) organisation on the
    instance so the model's clean() can check same-organisation references."""

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.instance.organization = organization


class OrgSettingsForm(OrgModelForm):
    class Meta:
        model = OrgSettings
        fields = ["classification_mode", "ownership_escalation_minutes"]
        labels = {
            "classification_mode": "Classification",
            "ownership_escalation_minutes": "Escalate unanswered ownership requests after (min)",
        }
        help_texts = {
            "classification_mode": "Static: only your classification rules suggest a category "
            "and severity. Assisted: also suggestions learnt from your closed incidents.",
        }
        widgets = {
            "ownership_escalation_minutes": forms.NumberInput(attrs={"min": 1, "max": 10080})
        }


class CategoryForm(OrgModelForm):
    class Meta:
        model = Category
        fields = ["name", "parent", "description", "is_active"]
        field_classes = {"parent": SafeModelChoiceField}
        labels = {"parent": "Parent category", "is_active": "Active"}
        help_texts = {
            "parent": "Optional. Categories nest one level: only top-level categories are offered.",
            "is_active": "Inactive categories stay on past incidents but are not offered for "
            "new ones.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parents = Category.objects.filter(organization=self.organization, parent__isnull=True)
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = parents
        self.fields["parent"].empty_label = "None — a top-level category"


class ServiceForm(OrgModelForm):
    tier = forms.TypedChoiceField(choices=TIER_CHOICES, coerce=int, initial=2)
    health_check_url = forms.URLField(
        label="Health-check URL",
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="Optional. Automated verification GETs it; 2xx means healthy.",
    )

    class Meta:
        model = Service
        fields = [
            "name",
            "description",
            "tier",
            "owning_team",
            "contributing_teams",
            "health_check_url",
            "is_active",
        ]
        field_classes = {
            "owning_team": SafeModelChoiceField,
            "contributing_teams": SafeModelMultipleChoiceField,
        }
        widgets = {"contributing_teams": forms.CheckboxSelectMultiple}
        labels = {"is_active": "Active"}
        help_texts = {
            "owning_team": "The team that answers for this service.",
            "is_active": "Inactive services stay on past incidents but are not offered for "
            "new ones.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.filter(organization=self.organization).order_by("name")
        self.fields["owning_team"].queryset = teams
        self.fields["owning_team"].empty_label = "No owning team yet"
        self.fields["contributing_teams"].queryset = teams
        self.fields["contributing_teams"].help_text = ""


class SeverityLevelForm(OrgModelForm):
    class Meta:
        model = SeverityLevel
        fields = [
            "name",
            "description",
            "requires_customer_visible",
            "min_users_affected_pct",
            "min_downtime_minutes",
            "on_revenue_at_risk",
            "on_data_at_risk",
            "on_regulatory_exposure",
        ]
        labels = {
            "requires_customer_visible": "Only when customers can see the problem",
            "min_users_affected_pct": "Users affected from (%)",
            "min_downtime_minutes": "Downtime from (minutes)",
            "on_revenue_at_risk": "Revenue at risk",
            "on_data_at_risk": "Data at risk",
            "on_regulatory_exposure": "Regulatory exposure",
        }
        help_texts = {
            "requires_customer_visible": "When ticked, the level is proposed only for "
            "customer-visible incidents.",
            "min_users_affected_pct": "Leave empty to ignore the share of users.",
            "min_downtime_minutes": "Leave empty to ignore downtime.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "min_users_affected_pct": forms.NumberInput(
                attrs={"min": 0, "max": 100, "step": "0.01"}
            ),
            "min_downtime_minutes": forms.NumberInput(attrs={"min": 0}),
        }


class EscalationPathForm(OrgModelForm):
    class Meta:
        model = EscalationPath
        fields = ["name", "severity", "category"]
        field_classes = {"severity": SafeModelChoiceField, "category": SafeModelChoiceField}
        help_texts = {
            "severity": "A path serves exactly one severity: incidents of any other severity "
            "never follow it.",
            "category": "Optional: a path for one category of this severity. Leave empty for "
            "the severity's default path.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].queryset = SeverityLevel.objects.filter(
            organization=self.organization
        )
        self.fields["severity"].empty_label = None
        # Active categories, and the one the path has even if it was deactivated since.
        offered = Q(is_active=True) | Q(pk=self.instance.category_id)
        self.fields["category"].queryset = Category.objects.filter(
            offered, organization=self.organization
        ).select_related("parent")
        self.fields["category"].empty_label = "Any category (the severity's default path)"

    def _post_clean(self):
        # EscalationPath.clean() reads self.severity, which raises when no valid severity was
        # chosen; the field's own error already says what to fix.
        if self.has_error("severity"):
            return
        super()._post_clean()


class EscalationStepForm(OrgModelForm):
    integration_target = forms.ChoiceField(required=False, label="PagerDuty service")

    class Meta:
        model = EscalationStep
        fields = ["delay_minutes", "target_kind", "team", "role", "user", "integration_target"]
        field_classes = {"team": SafeModelChoiceField, "user": SafeModelChoiceField}
        labels = {
            "delay_minutes": "After (minutes)",
            "target_kind": "Notify",
            "team": "Team",
            "role": "Role",
            "user": "Person",
        }
        help_texts = {
            "delay_minutes": "After the incident is declared; 0 = at once.",
        }
        widgets = {"delay_minutes": forms.NumberInput(attrs={"min": 0})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delay_minutes"].initial = 0
        self.fields["target_kind"].choices = EscalationStep.TargetKind.choices
        self.fields["team"].queryset = Team.objects.filter(organization=self.organization)
        self.fields["team"].empty_label = "Choose a team"
        self.fields["role"].choices = [("", "Choose a role"), *Role.choices]
        self.fields["user"].queryset = _org_members(self.organization)
        self.fields["user"].empty_label = "Choose a person"
        self.fields["integration_target"].choices = [
            ("", "Choose a PagerDuty service"),
            *step_target_choices(EscalationStep.TargetKind.PAGERDUTY, self.organization),
        ]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("target_kind")
        if kind != EscalationStep.TargetKind.PAGERDUTY:
            cleaned["integration_target"] = ""
        elif not cleaned.get("integration_target"):
            self.add_error("integration_target", "Choose the PagerDuty service to page.")
        # Only the target that matches "Notify" is kept.
        if kind != EscalationStep.TargetKind.TEAM:
            cleaned["team"] = None
        if kind != EscalationStep.TargetKind.ROLE:
            cleaned["role"] = ""
        if kind != EscalationStep.TargetKind.USER:
            cleaned["user"] = None
        return cleaned


class ClassificationRuleForm(OrgModelForm):
    match_labels = LabelsField(
        required=False,
        label="Source labels",
        help_text="Optional. A JSON object of strings that must all match the alert's labels, "
        'e.g. {"env": "prod", "team": "db"}.',
    )

    class Meta:
        model = ClassificationRule
        fields = [
            "name",
            "position",
            "is_active",
            "match_text",
            "match_service",
            "match_labels",
            "set_category",
            "set_severity",
            "set_service",
            "set_team",
        ]
        field_classes = {
            "match_service": SafeModelChoiceField,
            "set_category": SafeModelChoiceField,
            "set_severity": SafeModelChoiceField,
            "set_service": SafeModelChoiceField,
            "set_team": SafeModelChoiceField,
        }
        labels = {
            "position": "Position",
            "is_active": "Active",
            "match_text": "Title or description contains",
            "match_service": "Service is",
            "set_category": "Set category",
            "set_severity": "Set severity",
            "set_service": "Set service",
            "set_team": "Set owning team",
        }
        help_texts = {
            "position": "Rules are tried from the lowest position up; the first match wins.",
            "match_text": "Words that must all appear (case-insensitive; parts of words count).",
        }
        widgets = {"position": forms.NumberInput(attrs={"min": 0})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        org = self.organization
        services = Service.objects.filter(organization=org)
        choices = {
            "match_service": (services, "Any service"),
            "set_category": (
                Category.objects.filter(organization=org).select_related("parent"),
                "Leave as it is",
            ),
            "set_severity": (SeverityLevel.objects.filter(organization=org), "Leave as it is"),
            "set_service": (services, "Leave as it is"),
            "set_team": (Team.objects.filter(organization=org), "Leave as it is"),
        }
        for name, (queryset, empty_label) in choices.items():
            self.fields[name].queryset = queryset
            self.fields[name].empty_label = empty_label

    def _post_clean(self):
        # With unreadable labels the rule's clean() would see no labels at all and complain
        # that the rule has no condition; the labels' own error is the one to fix first.
        if self.has_error("match_labels"):
            return
        super()._post_clean()


class CustomFieldForm(OrgModelForm):
    choices = LinesField(
        required=False,
        label="Options",
        help_text="For choice fields only: one option per line.",
    )

    class Meta:
        model = CustomFieldDefinition
        fields = [
            "label",
            "key",
            "field_type",
            "choices",
            "required_from",
            "help_text",
            "is_regulatory",
            "is_sensitive",
            "position",
            "is_active",
        ]
        labels = {
            "field_type": "Type",
            "help_text": "Help text",
            "is_regulatory": "Regulatory (included in regulatory reports)",
            "is_sensitive": "Sensitive",
            "is_active": "Active",
        }
        help_texts = {
            "key": "Lower-case letters, digits and _, e.g. customer_impact. It cannot change "
            "later: incidents store their values under it.",
            "help_text": "Shown under the field on the incident form.",
            "position": "Fields are shown from the lowest position up.",
            "is_active": "Inactive fields keep their values on incidents but are no longer "
            "asked for or required.",
        }
        widgets = {"position": forms.NumberInput(attrs={"min": 0})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["required_from"].choices = [("", "Never mandatory"), *REQUIRABLE_STATES]
        if self.instance.pk:
            key = self.fields["key"]
            key.disabled = True
            key.help_text = "Fixed: incidents store their values under this key."


class TryRuleForm(forms.Form):
    """What the classification rules would do with an incident like this. Writes nothing."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    service = forms.ModelChoiceField(queryset=Service.objects.none(), required=False)
    labels = LabelsField(required=False, label="Source labels")

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(organization=organization)
        self.fields["service"].empty_label = "No service"
        self.fields["labels"].help_text = 'Optional, e.g. {"env": "prod"}.'
