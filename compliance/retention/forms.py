"""Forms of the retention pages: validation only; the services write."""

import re

from django import forms
from django.core.exceptions import ValidationError

from compliance.models import RecordType
from compliance.records import REGISTRY
from compliance.retention.models import PurgeAction
from compliance.retention.services import check_policy_duration, duration_days
from config import limits
from incidents.models import Incident
from taxonomy.models import Service
from tenancy.models import User


class DurationMixin(forms.Form):
    """A duration entered as years, months and days; `self.days` after cleaning."""

    years = forms.IntegerField(min_value=0, max_value=100, required=False, initial=0)
    months = forms.IntegerField(min_value=0, max_value=1200, required=False, initial=0)
    days = forms.IntegerField(min_value=0, max_value=36500, required=False, initial=0)

    def clean_duration(self, cleaned):
        parts = {k: cleaned.get(k) or 0 for k in ("years", "months", "days")}
        total = duration_days(**parts)
        if total <= 0:
            raise ValidationError("Enter a duration of at least one day.")
        self.total_days = total
        self.duration_text = ", ".join(
            f"{value} {name if value != 1 else name[:-1]}" for name, value in parts.items() if value
        )
        return total


class RetentionPolicyForm(DurationMixin):
    action = forms.ChoiceField(choices=PurgeAction.choices)

    def __init__(self, *args, organization, record_type, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization, self.record_type = organization, record_type
        actions = REGISTRY[record_type].actions
        self.fields["action"].choices = [(a, PurgeAction(a).label) for a in actions]
        self.fields["action"].initial = actions[0]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        days = self.clean_duration(cleaned)
        check_policy_duration(self.organization, self.record_type, days)
        return cleaned


class WhatIfForm(DurationMixin):
    record_type = forms.ChoiceField(label="Record type")
    field_order = ["record_type", "years", "months", "days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record_type"].choices = [
            (key, RecordType(key).label) for key in RecordType.values if key in REGISTRY
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            self.clean_duration(cleaned)
        return cleaned


KEY_SPLIT = re.compile(r"[\s,;]+")


class LegalHoldForm(forms.Form):
    matter = forms.CharField(
        max_length=200, help_text="The case or investigation, e.g. “Smith v. Acme”."
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=limits.LONG_TEXT
    )
    custodian = forms.ModelChoiceField(
        queryset=User.objects.none(), help_text="The member answerable for the held records."
    )
    whole_organization = forms.BooleanField(
        label="Hold everything of this organisation", required=False
    )
    incident_keys = forms.CharField(
        label="Incidents",
        max_length=limits.SHORT_TEXT,
        required=False,
        help_text="Incident keys, separated by commas or spaces (e.g. ACME-12, ACME-40).",
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Incidents on these services (primary or affected), their alerts, and alerts "
        "from sources that default to them.",
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Both days included; a record is held when its period overlaps the range "
        "(an incident from detection to close).",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["custodian"].queryset = User.objects.filter(
            memberships__organization=organization
        ).order_by("full_name", "email")
        self.fields["custodian"].label_from_instance = lambda u: f"{u.full_name} ({u.email})"
        self.fields["services"].queryset = Service.objects.filter(
            organization=organization
        ).order_by("name")

    def clean_incident_keys(self):
        keys = [k.upper() for k in KEY_SPLIT.split(self.cleaned_data["incident_keys"]) if k]
        if len(keys) > 500:
            raise ValidationError("At most 500 incidents per hold; hold a date range instead.")
        found = {
            i.key: i for i in Incident.objects.filter(organization=self.organization, key__in=keys)
        }
        missing = [k for k in keys if k not in found]
        if missing:
            raise ValidationError(f"No such incident here: {', '.join(missing)}.")
        self.incidents = list(found.values())
        return keys

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        scoped = (
            cleaned.get("whole_organization")
            or getattr(self, "incidents", None)
            or cleaned.get("services")
            or cleaned.get("date_from")
            or cleaned.get("date_to")
        )
        if not scoped:
            raise ValidationError(
                "Choose what the hold covers: the whole organisation, incidents, services or a "
                "date range."
            )
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The range ends before it starts.")
        return cleaned


class LegalHoldReleaseForm(forms.Form):
    note = forms.CharField(
        label="Why is the hold released?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class PurgeRunForm(forms.Form):
    dry_run = forms.BooleanField(
        label="Dry run: write receipts of what would go, remove nothing", required=False
    )
    confirm = forms.BooleanField(
        label="I understand that what is listed above is deleted or anonymised for good",
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("dry_run") and not cleaned.get("confirm"):
            raise ValidationError("Tick the confirmation to run the purge (or choose a dry run).")
        return cleaned
