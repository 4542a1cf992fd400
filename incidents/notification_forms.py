"""Forms for the notification pages. Validation only: the views hand the cleaned data to
incidents.notify, which writes."""

import zoneinfo

from django import forms
from django.core.validators import URLValidator

from taxonomy.models import SeverityLevel
from tenancy.models import Organization

TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class HttpURLField(forms.URLField):
    """A URL Vigil can POST to: http or https only (no ftp:, file:, javascript:)."""

    default_error_messages = {
        "invalid": "Enter an http:// or https:// URL (the incoming-webhook URL your chat tool "
        "gave you).",
    }
    default_validators = [URLValidator(schemes=["http", "https"])]


class PreferenceForm(forms.Form):
    email = forms.BooleanField(
        label="E-mail me",
        required=False,
        help_text="Escalations, SLA breaches and whatever else is meant for you.",
    )
    chat = forms.BooleanField(
        label="Name me in the organisation's chat channel",
        required=False,
        help_text="When you are notified, the chat message says so (if a chat webhook is set up).",
    )
    quiet_start = forms.TimeField(label="Quiet hours from", required=False, widget=TIME_WIDGET)
    quiet_end = forms.TimeField(label="Quiet hours until", required=False, widget=TIME_WIDGET)
    timezone = forms.ChoiceField(label="Time zone of your quiet hours", required=False)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            ("", f"The organisation's ({organization.timezone})"),
            *((name, name) for name in sorted(zoneinfo.available_timezones())),
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if "quiet_start" in data and "quiet_end" in data:
            if start is None and end is not None:
                self.add_error("quiet_start", "Give the start of your quiet hours too.")
            elif end is None and start is not None:
                self.add_error("quiet_end", "Give the end of your quiet hours too.")
            elif start is not None and start == end:
                self.add_error("quiet_end", "Quiet hours must end at another time than they start.")
        return data


class ChatWebhookForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="Where the messages go, e.g. “#incidents on Slack”."
    )
    url = HttpURLField(
        label="Incoming-webhook URL",
        max_length=300,
        assume_scheme="https",
        help_text="Slack-compatible: Vigil POSTs a JSON message with “text” and “blocks”.",
    )
    min_severity_level = forms.TypedChoiceField(label="Post incidents of", coerce=int)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        levels = list(SeverityLevel.objects.filter(organization=organization).order_by("level"))
        choices = []
        for index, level in enumerate(levels):
            if index == 0:
                label = f"{level.name} only"
            elif index == len(levels) - 1:
                label = f"{level.name} or stronger (every incident)"
            else:
                label = f"{level.name} or stronger"
            choices.append((level.level, label))
        self.fields["min_severity_level"].choices = choices
        if levels and "min_severity_level" not in self.initial:
            self.initial["min_severity_level"] = levels[min(1, len(levels) - 1)].level
