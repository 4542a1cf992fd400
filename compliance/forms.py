"""Forms of the compliance pages: an incident's regulatory facts, a submission, an obligation."""

import datetime
import json

from django import forms
from django.utils import timezone
from django_scopes.forms import SafeModelChoiceField

from compliance.models import IncidentFacts, Obligation, Trigger
from config import limits


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class FactsForm(limits.TextLimitsMixin, forms.ModelForm):
    text_limits = {"data_categories": limits.SHORT_TEXT, "notes": limits.LONG_TEXT}

    class Meta:
        model = IncidentFacts
        fields = [
            "aware_at",
            "personal_data_breach",
            "high_risk_to_subjects",
            "subjects_affected",
            "data_categories",
            "phi_breach",
            "residents_most_in_one_state",
            "material",
            "materiality_determined_at",
            "major_ict",
            "classified_at",
            "significant",
            "financial_system",
            "notes",
        ]
        widgets = {
            "aware_at": DateTimeLocalInput(),
            "materiality_determined_at": DateTimeLocalInput(),
            "classified_at": DateTimeLocalInput(),
            "data_categories": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "aware_at": "When the organisation became aware. Empty: the incident's report time.",
            "materiality_determined_at": "Starts the SEC 8-K clock (4 business days).",
            "classified_at": "Starts DORA's 4-hour initial-notice clock.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("aware_at", "materiality_determined_at", "classified_at"):
            self.fields[name].input_formats = DATETIME_FORMATS

    def clean(self):
        data = super().clean()
        now = timezone.now()
        for name in ("aware_at", "materiality_determined_at", "classified_at"):
            value = data.get(name)
            if value and value > now + datetime.timedelta(minutes=5):
                self.add_error(name, "This cannot be in the future.")
        if data.get("material") and not data.get("materiality_determined_at"):
            self.add_error(
                "materiality_determined_at",
                "Say when materiality was determined: the SEC clock starts then.",
            )
        if data.get("major_ict") and not data.get("classified_at"):
            self.add_error(
                "classified_at", "Say when it was classified as major: DORA's clock starts then."
            )
        if data.get("high_risk_to_subjects") and not data.get("personal_data_breach"):
            self.add_error(
                "personal_data_breach",
                "A high risk to data subjects implies a personal-data breach.",
            )
        return data


class SubmissionForm(forms.Form):
    submitted_at = forms.DateTimeField(
        label="Submitted at",
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeLocalInput(),
        help_text="Empty: now.",
    )
    reference = forms.CharField(
        label="Reference", required=False, max_length=200, help_text="Case or receipt number."
    )


# The longest deadline each unit allows (a regulator's clock runs hours to months, not decades;
# the business-day arithmetic scans at most three years).
DEADLINE_LIMITS = {
    "hours": (8760, "hours (a year)"),
    "calendar_days": (730, "calendar days (two years)"),
    "business_days": (500, "business days"),
    "months": (24, "months"),
}

TRIGGER_HELP = ", ".join(t.value for t in Trigger) + ", or custom:<field key>"


class ObligationForm(limits.TextLimitsMixin, forms.ModelForm):
    text_limits = {"recipients": limits.SHORT_TEXT * 5, "guidance": limits.LONG_TEXT}

    field_map_text = forms.CharField(
        label="Field mapping",
        max_length=limits.LONG_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='JSON: {"Report section": ["incident.title", "facts.subjects_affected", '
        '"custom:records"], …}',
    )

    class Meta:
        model = Obligation
        fields = [
            "name",
            "reference",
            "trigger",
            "clock_start",
            "previous",
            "deadline_unit",
            "deadline_amount",
            "latest_hours_after_awareness",
            "recipients",
            "report_format",
            "guidance",
        ]
        field_classes = {"previous": SafeModelChoiceField}
        widgets = {
            "recipients": forms.Textarea(attrs={"rows": 3}),
            "guidance": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"trigger": TRIGGER_HELP}

    def __init__(self, *args, custom_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_keys = set(custom_keys)
        self.fields["previous"].queryset = Obligation.objects.filter(
            organization_id=self.instance.organization_id
        ).exclude(pk=self.instance.pk)
        self.fields["field_map_text"].initial = json.dumps(
            self.instance.field_map or {}, indent=2, ensure_ascii=False
        )

    def clean_trigger(self):
        trigger = self.cleaned_data["trigger"].strip()
        if trigger.startswith("custom:"):
            if trigger[7:] not in self.custom_keys:
                raise forms.ValidationError(f"No custom field has the key “{trigger[7:]}”.")
        elif trigger not in Trigger.values:
            raise forms.ValidationError(f"Use one of: {TRIGGER_HELP}.")
        return trigger

    def clean_field_map_text(self):
        text = self.cleaned_data["field_map_text"].strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
        except RecursionError:
            raise forms.ValidationError("Not valid JSON: nested too deeply.") from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(r, str) for r in v)
            for k, v in value.items()
        ):
            raise forms.ValidationError("Give an object of section names → lists of fields.")
        for refs in value.values():
            for ref in refs:
                if not (
                    ref.startswith(("incident.", "facts."))
                    or (ref.startswith("custom:") and ref[7:] in self.custom_keys)
                ):
                    raise forms.ValidationError(
                        f"“{ref}” is not incident.<field>, facts.<field> or custom:<key> of a "
                        "custom field."
                    )
        return value

    def clean(self):
        data = super().clean()
        if data.get("clock_start") == "previous_submitted" and not data.get("previous"):
            self.add_error("previous", "Choose the notice whose submission starts this clock.")
        if data.get("deadline_unit") not in (None, "none") and not data.get("deadline_amount"):
            self.add_error("deadline_amount", "Give the number of hours, days or months.")
        limit = DEADLINE_LIMITS.get(data.get("deadline_unit"))
        if limit and (data.get("deadline_amount") or 0) > limit[0]:
            self.add_error("deadline_amount", f"At most {limit[0]:,} {limit[1]}.")
        latest = data.get("latest_hours_after_awareness")
        if latest and latest > DEADLINE_LIMITS["hours"][0]:
            self.add_error("latest_hours_after_awareness", "At most 8,760 hours (a year).")
        return data

    def save(self, commit=True):
        self.instance.field_map = self.cleaned_data["field_map_text"]
        return super().save(commit=commit)


class ObligationFilterForm(forms.Form):
    STATES = [
        ("open", "Open"),
        ("overdue", "Overdue"),
        ("submitted", "Submitted"),
        ("all", "All"),
    ]
    state = forms.ChoiceField(choices=STATES, required=False, initial="open")
    framework = forms.ChoiceField(required=False)
    incident = forms.CharField(required=False, max_length=24, label="Incident key")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        from compliance.models import Framework

        self.fields["framework"].choices = [("", "Any framework")] + [
            (f.key, f.get_key_display())
            for f in Framework.objects.filter(organization=organization)
        ]

    def apply(self, queryset):
        state = self.cleaned_data.get("state") or "open"
        if state == "open":
            queryset = queryset.filter(status__in=["not_started", "drafted"])
        elif state == "overdue":
            queryset = queryset.filter(
                status__in=["not_started", "drafted"], due_at__lte=timezone.now()
            )
        elif state == "submitted":
            queryset = queryset.filter(status="submitted")
        if self.cleaned_data.get("framework"):
            queryset = queryset.filter(obligation__framework__key=self.cleaned_data["framework"])
        if self.cleaned_data.get("incident"):
            queryset = queryset.filter(incident__key__iexact=self.cleaned_data["incident"].strip())
        return queryset
