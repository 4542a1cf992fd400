"""The dashboard's filter form: a period and the same narrowing the incident list offers."""

import datetime

from django import forms

from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Team

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
