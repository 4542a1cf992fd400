"""The trends page's three forms, read from one GET query: the trend (unit, period and the
dashboard's filters), the before/after date, and the service or category whose baseline is
charted. Each validates on its own, so an error in one leaves the others' sections shown."""

import datetime

from django import forms

from reporting import trends
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Team

DEFAULT_BUCKETS = {trends.WEEK: 26, trends.MONTH: 12}
LONGEST = {trends.WEEK: 156, trends.MONTH: 36}
DATE = forms.DateInput(attrs={"type": "date"})


class TrendForm(forms.Form):
    unit = forms.ChoiceField(
        label="Buckets", choices=[(trends.WEEK, "Weekly"), (trends.MONTH, "Monthly")]
    )
    since = forms.DateField(label="From", required=False, widget=DATE)
    until = forms.DateField(label="Until", required=False, widget=DATE)
    team = forms.ModelChoiceField(Team.objects.none(), required=False, empty_label="Any")
    service = forms.ModelChoiceField(Service.objects.none(), required=False, empty_label="Any")
    severity = forms.ModelChoiceField(
        SeverityLevel.objects.none(), required=False, empty_label="Any"
    )
    category = forms.ModelChoiceField(Category.objects.none(), required=False, empty_label="Any")
    include_excluded = forms.BooleanField(label="Include excluded incidents", required=False)

    def __init__(self, data, *, organization, today: datetime.date, **kwargs):
        data = data.copy()
        data["unit"] = data.get("unit") or trends.WEEK
        self.today = today
        super().__init__(data, **kwargs)
        # Choice lists per request, inside the request's scope (see docs/tenancy.md).
        self.fields["team"].queryset = Team.objects.filter(organization=organization)
        self.fields["service"].queryset = Service.objects.filter(organization=organization)
        self.fields["severity"].queryset = SeverityLevel.objects.filter(
            organization=organization
        ).order_by("level")
        self.fields["category"].queryset = Category.objects.filter(organization=organization)
        self.fields["since"].help_text = "Empty: the last 26 full weeks or 12 full months."
        self.fields["until"].help_text = "Widened to whole weeks (Monday–Sunday) or months."

    def clean(self):
        data = super().clean()
        unit = data.get("unit")
        if unit is None or "since" in self.errors or "until" in self.errors:
            return data
        default_first, default_last = trends.last_full(unit, self.today, DEFAULT_BUCKETS[unit])
        since = data.get("since") or default_first
        until = data.get("until") or default_last
        if since > until:
            self.add_error("until", "The period must end on or after its first day.")
            return data
        periods_first = trends.bucket_start(unit, since)
        last_complete = trends.bucket_start(unit, self.today) - trends.DAY
        if trends.bucket_start(unit, until) > last_complete:
            word = "week" if unit == trends.WEEK else "month"
            self.add_error(
                "until",
                f"Only complete {word}s are shown: choose a day on or before "
                f"{last_complete:%-d %b %Y}.",
            )
            return data
        count = len(trends.buckets(unit, periods_first, until, datetime.UTC))
        if count < 2:
            self.add_error("since", "Choose a period of at least two weeks or months.")
        elif count > LONGEST[unit]:
            self.add_error("since", f"Choose at most {LONGEST[unit]} {unit}s.")
        data["since"], data["until"] = since, until
        return data


class BeforeAfterForm(forms.Form):
    change = forms.DateField(
        label="Change date",
        required=False,
        widget=DATE,
        help_text="E.g. an architecture change or a training.",
    )
    weeks = forms.IntegerField(
        label="Weeks each side",
        min_value=1,
        max_value=52,
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "8"}),
    )

    def __init__(self, data, *, today: datetime.date, **kwargs):
        self.today = today
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("weeks") is None and "weeks" not in self.errors:
            data["weeks"] = 8
        change = data.get("change")
        if change is None or "weeks" in self.errors:
            return data
        found = trends.windows(change, data["weeks"], self.today)
        if found is None:
            latest = self.today - datetime.timedelta(days=7)
            self.add_error(
                "change",
                "At least one whole week must follow the date, up to yesterday: choose "
                f"{latest:%-d %b %Y} or earlier.",
            )
        else:
            data["windows"] = found
        return data


class FocusForm(forms.Form):
    """The service or category whose weekly values are charted with their baseline band."""

    focus = forms.ChoiceField(label="Baseline of", required=False)
    measure = forms.ChoiceField(
        label="Measure",
        required=False,
        choices=[(trends.COUNT, "Incidents per week"), (trends.REPAIR, "Mean repair time")],
    )

    def __init__(self, data, *, organization, **kwargs):
        super().__init__(data, **kwargs)
        services = Service.objects.filter(organization=organization).order_by("name")
        categories = Category.objects.filter(organization=organization).order_by("name")
        self.fields["focus"].choices = [
            ("", "—"),
            ("Services", [(f"service:{s.pk}", s.name) for s in services]),
            ("Categories", [(f"category:{c.pk}", c.name) for c in categories]),
        ]

    def clean_measure(self):
        return self.cleaned_data["measure"] or trends.COUNT
