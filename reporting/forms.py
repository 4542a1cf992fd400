"""The dashboard's filter form: a period and the same narrowing the incident list offers."""

import datetime
import re

from django import forms
from django.core.validators import validate_email

from config import limits
from reporting.models import ExposureFigure, ReportSchedule
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Team, User
from tenancy.roles import Capability, Role, can

PERIODS = [
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("custom", "Custom"),
]
PRESET_DAYS = {"7": 7, "30": 30, "90": 90}
LONGEST_DAYS = 3 * 366


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    team = forms.ModelChoiceField(Team.objects.none(), required=False, empty_label="Any")
    service = forms.ModelChoiceField(Service.objects.none(), required=False, empty_label="Any")
    severity = forms.ModelChoiceField(
        SeverityLevel.objects.none(), required=False, empty_label="Any"
    )
    category = forms.ModelChoiceField(Category.objects.none(), required=False, empty_label="Any")
    include_excluded = forms.BooleanField(label="Include excluded incidents", required=False)

    def __init__(self, data, *, organization, today: datetime.date, **kwargs):
        data = data.copy()
        period = data.get("period") or "30"
        data["period"] = period
        if period in PRESET_DAYS:
            # A preset fills the dates, so the form shows which days it covers.
            data["until"] = today.isoformat()
            data["since"] = (today - datetime.timedelta(days=PRESET_DAYS[period] - 1)).isoformat()
        super().__init__(data, **kwargs)
        # Choice lists per request, inside the request's scope (see docs/tenancy.md).
        self.fields["team"].queryset = Team.objects.filter(organization=organization)
        self.fields["service"].queryset = Service.objects.filter(organization=organization)
        self.fields["severity"].queryset = SeverityLevel.objects.filter(
            organization=organization
        ).order_by("level")
        self.fields["category"].queryset = Category.objects.filter(organization=organization)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since is None or until is None:
            raise forms.ValidationError("Choose both dates of a custom period.")
        if since > until:
            raise forms.ValidationError("The period must end on or after its first day.")
        if (until - since).days >= LONGEST_DAYS:
            raise forms.ValidationError("Choose a period of at most three years.")
        return data

    def chosen_period(self, tz):
        """The chosen period (after `is_valid()`), in the organisation's time zone `tz`."""
        from reporting.kpis import Period

        return Period(self.cleaned_data["since"], self.cleaned_data["until"], tz)

    def chosen_filters(self):
        """The chosen filters (after `is_valid()`)."""
        from reporting.kpis import Filters

        cleaned = self.cleaned_data
        return Filters(
            team=cleaned["team"],
            service=cleaned["service"],
            severity=cleaned["severity"],
            category=cleaned["category"],
            include_excluded=cleaned["include_excluded"],
        )


class ScheduleForm(forms.ModelForm):
    """An executive report schedule: when, and to whom (members who may view dashboards
    and/or outside addresses, one per line)."""

    emails = forms.CharField(
        label="Outside e-mail addresses",
        max_length=limits.SHORT_TEXT * 5,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line (or separated by commas).",
    )

    class Meta:
        model = ReportSchedule
        fields = ["name", "frequency", "weekday", "day_of_month", "hour", "members", "is_enabled"]
        widgets = {"members": forms.CheckboxSelectMultiple}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        roles = [role for role in Role.values if can(role, Capability.VIEW_DASHBOARDS)]
        self.fields["members"].queryset = User.objects.filter(
            memberships__organization=organization, memberships__role__in=roles, is_active=True
        ).order_by("email")
        self.fields["members"].label_from_instance = lambda u: f"{u.display_name} <{u.email}>"
        self.fields["members"].help_text = "Members who may view dashboards."
        self.fields["hour"] = forms.IntegerField(
            min_value=0,
            max_value=23,
            initial=self.instance.hour if self.instance.pk else 8,
            help_text=f"0–23, in the organisation's time zone ({organization.timezone}).",
        )
        self.fields["day_of_month"] = forms.IntegerField(
            min_value=1,
            max_value=28,
            required=False,
            help_text="1–28, for a monthly report.",
        )
        if self.instance.pk:
            self.initial["emails"] = "\n".join(self.instance.emails)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = ReportSchedule.objects.filter(organization=self.organization, name=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("A schedule with this name exists already.")
        return name

    def clean_emails(self):
        addresses, invalid = [], []
        for part in re.split(r"[\s,;]+", self.cleaned_data["emails"]):
            if not part:
                continue
            try:
                validate_email(part)
            except forms.ValidationError:
                invalid.append(part)
                continue
            if part.lower() not in {a.lower() for a in addresses}:
                addresses.append(part)
        if invalid:
            raise forms.ValidationError(
                "Not a valid e-mail address: %(addresses)s.",
                params={"addresses": ", ".join(invalid)},
            )
        return addresses

    def clean(self):
        cleaned = super().clean()
        frequency = cleaned.get("frequency")
        if frequency == ReportSchedule.Frequency.WEEKLY:
            cleaned["day_of_month"] = None
            if cleaned.get("weekday") is None:
                self.add_error("weekday", "Choose the day of the week a weekly report is sent.")
        elif frequency == ReportSchedule.Frequency.MONTHLY:
            cleaned["weekday"] = None
            if cleaned.get("day_of_month") is None and "day_of_month" not in self.errors:
                self.add_error("day_of_month", "Choose the day of the month (1–28).")
        if not cleaned.get("members") and not cleaned.get("emails") and "emails" not in self.errors:
            raise forms.ValidationError("Choose at least one recipient: a member or an address.")
        return cleaned

    def _post_clean(self):
        self.instance.organization = self.organization
        super()._post_clean()
        self.instance.emails = self.cleaned_data.get("emails", [])


class GenerateForm(forms.Form):
    frequency = forms.ChoiceField(
        choices=[("weekly", "Last full week"), ("monthly", "Last full month")],
        label="Period",
    )


class ExposureFigureForm(forms.ModelForm):
    """One week's exposure of the organisation (no service) or of one service. Any day of the
    week may be entered: the figure is stored for that week's Monday."""

    service = forms.ModelChoiceField(
        Service.objects.none(), required=False, empty_label="Whole organisation"
    )
    value = forms.DecimalField(min_value=0, max_digits=20, decimal_places=2)

    class Meta:
        model = ExposureFigure
        fields = ["service", "week", "value", "unit"]
        widgets = {"week": forms.DateInput(attrs={"type": "date"})}
        help_texts = {
            "week": "Any day of the week: the figure is stored for its Monday.",
            "unit": "What is counted, e.g. requests, deploys, orders.",
        }

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["service"].queryset = Service.objects.filter(organization=organization)
        if not self.instance.pk:
            self.initial.setdefault("unit", "requests")

    def clean_week(self):
        day = self.cleaned_data["week"]
        return day - datetime.timedelta(days=day.weekday())

    def clean_unit(self):
        unit = " ".join(self.cleaned_data["unit"].split())
        if not unit:
            raise forms.ValidationError("Say what is counted, e.g. requests.")
        return unit

    def clean(self):
        cleaned = super().clean()
        week = cleaned.get("week")
        if week is not None and "service" not in self.errors:
            clash = ExposureFigure.objects.filter(
                organization=self.organization, service=cleaned.get("service"), week=week
            )
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(
                    "week",
                    f"There is a figure for the week of {week:%-d %b %Y} already"
                    f"{' for this service' if cleaned.get('service') else ''}: edit that one.",
                )
        return cleaned

    def _post_clean(self):
        self.instance.organization = self.organization
        super()._post_clean()
