from django import forms
from django_scopes.forms import SafeModelChoiceField

from incidents.models import BusinessCalendar, Holiday, SlaPolicy
from taxonomy.models import Category, SeverityLevel

WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = [
            "severity",
            "category",
            "acknowledge_minutes",
            "mitigate_minutes",
            "resolve_minutes",
            "clock",
            "warn_at_percent",
        ]
        field_classes = {"severity": SafeModelChoiceField, "category": SafeModelChoiceField}
        labels = {"category": "Only for category (optional)"}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        self.fields["severity"].queryset = SeverityLevel.objects.filter(organization=organization)
        self.fields["category"].queryset = Category.objects.filter(organization=organization)
        self.fields["category"].required = False

    def clean(self):
        data = super().clean()
        ack, mitigate, resolve = (
            data.get(f) for f in ("acknowledge_minutes", "mitigate_minutes", "resolve_minutes")
        )
        if ack and mitigate and resolve and not ack <= mitigate <= resolve:
            raise forms.ValidationError(
                "Targets run from the report: acknowledge ≤ mitigate ≤ resolve."
            )
        clash = SlaPolicy.objects.filter(
            organization=self.instance.organization,
            severity=data.get("severity"),
            category=data.get("category"),
        ).exclude(pk=self.instance.pk)
        if data.get("severity") and clash.exists():
            raise forms.ValidationError("There is already a policy for this severity and category.")
        return data


class CalendarForm(forms.ModelForm):
    working_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = BusinessCalendar
        fields = ["timezone", "working_days", "day_start", "day_end"]
        widgets = {
            "day_start": forms.TimeInput(attrs={"type": "time"}),
            "day_end": forms.TimeInput(attrs={"type": "time"}),
        }

    def clean(self):
        data = super().clean()
        if data.get("day_start") and data.get("day_end") and data["day_end"] <= data["day_start"]:
            self.add_error("day_end", "The working day must end after it starts.")
        if not data.get("working_days"):
            self.add_error("working_days", "Choose at least one working day.")
        return data


class HolidayForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = ["date", "name"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}
