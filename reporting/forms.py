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
LONGEST_DAYS = 3 * 366


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, initial="30", required=False)
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

    def __init__(self, *args, organization, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        # Choice lists per request, inside the request's scope (see docs/tenancy.md).
        self.fields["team"].queryset = Team.objects.filter(organization=organization)
        self.fields["service"].queryset = Service.objects.filter(organization=organization)
        self.fields["severity"].queryset = SeverityLevel.objects.filter(
            organization=organization
        ).order_by("level")
        self.fields["category"].queryset = Category.objects.filter(organization=organization)

    def clean(self):
        data = super().clean()
        period = data.get("period") or "30"
        if period == "custom":
            since, until = data.get("since"), data.get("until")
            if since is None or until is None:
                raise forms.ValidationError("Choose both dates of a custom period.")
            if since > until:
                raise forms.ValidationError("The period must end on or after its first day.")
            if (until - since).days >= LONGEST_DAYS:
                raise forms.ValidationError("Choose a period of at most three years.")
        else:
            data["until"] = self.today
            data["since"] = self.today - datetime.timedelta(days=int(period) - 1)
        data["period"] = period
        return data
