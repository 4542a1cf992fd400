from django import forms
from django.utils import timezone

from compliance.models import Framework, ReportFormat
from compliance.reports.models import DistributionList, Report
from tenancy.models import User

FORMAT_CHOICES = [
    ("", "Any format"),
    *[(value, text) for value, text in ReportFormat.choices if value],
]


class ReportFilterForm(forms.Form):
    framework = forms.ModelChoiceField(
        queryset=Framework.objects.none(), required=False, empty_label="Any framework"
    )
    format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False)
    incident = forms.CharField(
        required=False, max_length=24, widget=forms.TextInput(attrs={"placeholder": "ACME-12"})
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["framework"].queryset = Framework.objects.filter(organization=organization)


class ReportSendForm(forms.Form):
    report = forms.ModelChoiceField(queryset=Report.objects.none(), label="Version")
    distribution_list = forms.ModelChoiceField(
        queryset=DistributionList.objects.none(), label="Distribution list"
    )

    def __init__(self, *args, versions, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["report"].queryset = versions
        tz = organization.tzinfo
        self.fields["report"].label_from_instance = lambda r: (
            f"v{r.version} · {timezone.localtime(r.generated_at, tz):%Y-%m-%d %H:%M %Z}"
            f" · {r.short_hash}"
        )
        self.fields["distribution_list"].queryset = DistributionList.objects.filter(
            organization=organization
        ).order_by("name")


class DistributionListForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=300, required=False)
    default_for = forms.ModelChoiceField(
        queryset=Framework.objects.none(),
        required=False,
        label="Default for framework",
        empty_label="No framework",
        help_text="Offered first when sending this framework's reports.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_for"].queryset = Framework.objects.filter(organization=organization)


class RecipientMemberForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Member")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(
            memberships__organization=organization, is_active=True
        ).order_by("full_name", "email")
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} <{u.email}>"


class RecipientAddressForm(forms.Form):
    name = forms.CharField(max_length=120)
    email = forms.EmailField(label="E-mail address")
