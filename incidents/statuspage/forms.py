"""Forms of the status page: validation of shapes and sizes only; services do the rest."""

from django import forms
from django.utils import timezone

from config import limits
from incidents.statuspage.models import (
    Component,
    ComponentState,
    MessageTemplate,
    PublicStatus,
    StatusPageSettings,
)
from incidents.statuspage.placeholders import PLACEHOLDERS, validate_placeholders
from taxonomy.models import Service
from tenancy.models import Membership, User

PLACEHOLDER_HELP = "Placeholders: " + ", ".join(
    "{" + name + "} — " + text for name, text in PLACEHOLDERS.items()
)
NOT_AFFECTED = ""


class SettingsForm(forms.ModelForm):
    class Meta:
        model = StatusPageSettings
        fields = ["is_public", "title", "introduction", "allow_self_approval"]
        widgets = {"introduction": forms.TextInput()}


class SpokespersonForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.none(), label="Member", empty_label="Choose a member…"
    )

    def __init__(self, *args, organization, exclude_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Built inside the request's scope: members of this organisation only.
        member_ids = Membership.objects.filter(organization=organization).values("user_id")
        self.fields["user"].queryset = (
            User.objects.filter(pk__in=member_ids, is_active=True)
            .exclude(pk__in=list(exclude_ids))
            .order_by("full_name", "email")
        )
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} ({u.email})"


class ComponentForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=200, required=False)
    order = forms.IntegerField(min_value=0, max_value=32767, initial=0)
    service = forms.ModelChoiceField(
        queryset=Service.objects.none(),
        required=False,
        help_text="The internal service behind it. Never shown publicly.",
    )
    state = forms.ChoiceField(choices=ComponentState.choices, initial=ComponentState.OPERATIONAL)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(organization=organization)


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=80)
    status = forms.ChoiceField(choices=PublicStatus.choices, label="Suggested status")
    title = forms.CharField(max_length=160, help_text=PLACEHOLDER_HELP)
    body = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 6}))
    is_active = forms.BooleanField(required=False, initial=True, label="Offer it when drafting")

    def clean_title(self):
        validate_placeholders(self.cleaned_data["title"])
        return self.cleaned_data["title"]

    def clean_body(self):
        validate_placeholders(self.cleaned_data["body"])
        return self.cleaned_data["body"]


class MessageForm(forms.Form):
    """A draft: text, status, next update, optional incident key, and one state field per
    component (empty = not affected)."""

    incident_key = forms.CharField(
        label="Incident (optional)",
        max_length=24,
        required=False,
        help_text="The incident this message is about, e.g. ACME-42. Never shown publicly.",
    )
    status = forms.ChoiceField(choices=PublicStatus.choices)
    title = forms.CharField(max_length=160, help_text=PLACEHOLDER_HELP)
    body = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 7}),
        help_text="Written for customers: what they notice, what to do, what happens next. "
        "No internal names, people or incident details.",
    )
    next_update_at = forms.DateTimeField(
        label="Next update due",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, components: list[Component], **kwargs):
        super().__init__(*args, **kwargs)
        self.components = components
        choices = [(NOT_AFFECTED, "Not affected"), *ComponentState.choices]
        for component in components:
            self.fields[f"component_{component.pk}"] = forms.ChoiceField(
                label=component.name, choices=choices, required=False
            )

    def component_fields(self):
        return [self[f"component_{component.pk}"] for component in self.components]

    def text_fields(self):
        return [self[name] for name in ("incident_key", "status", "title", "body")]

    def clean_title(self):
        validate_placeholders(self.cleaned_data["title"])
        return self.cleaned_data["title"]

    def clean_body(self):
        validate_placeholders(self.cleaned_data["body"])
        return self.cleaned_data["body"]

    def clean_next_update_at(self):
        value = self.cleaned_data.get("next_update_at")
        if value is not None and value < timezone.now() - timezone.timedelta(minutes=5):
            raise forms.ValidationError("The next update cannot be in the past.")
        return value

    def affected(self) -> dict:
        return {
            component: self.cleaned_data[f"component_{component.pk}"]
            for component in self.components
            if self.cleaned_data.get(f"component_{component.pk}")
        }


def template_choices(templates: list[MessageTemplate]):
    return [(template.pk, template.name) for template in templates]


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    # A honeypot: people do not see it; form-filling bots do.
    website = forms.CharField(
        required=False, label="Leave this empty", max_length=limits.SHORT_TEXT
    )
