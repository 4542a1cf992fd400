"""Forms for channel pages. Validation only: the views hand cleaned data to
incidents.channels.services, which checks again and writes."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from incidents.channels import services
from incidents.channels.models import EVERY, OFF
from taxonomy.models import SeverityLevel
from tenancy.models import Organization


class WarRoomMessageForm(forms.Form):
    text = forms.CharField(
        label="Message",
        max_length=services.MAX_MESSAGE,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": "What do you see, what are you doing? (Ctrl+Enter sends)",
                "maxlength": services.MAX_MESSAGE,
            }
        ),
        error_messages={"required": "Write something first."},
    )

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise ValidationError("Write something first.")
        return text


def level_choices(organization: Organization) -> list[tuple[int, str]]:
    """Off, then "SEV-1 only", "SEV-2 or stronger", … "every severity"."""
    levels = list(SeverityLevel.objects.filter(organization=organization).order_by("level"))
    choices = [(OFF, "Off")]
    for index, level in enumerate(levels):
        if index == 0 and len(levels) > 1:
            label = f"{level.name} only"
        elif index == len(levels) - 1:
            choices.append((EVERY, f"Every severity ({levels[0].name} … {level.name})"))
            continue
        else:
            label = f"{level.name} or stronger"
        choices.append((level.level, label))
    return choices


def shown_level(value: int, choices: list[tuple[int, str]]) -> int:
    """The choice a stored level falls under (a level weaker than the weakest is "every")."""
    values = [choice for choice, _ in choices]
    if value in values:
        return value
    return EVERY if value > max(v for v in values if v != EVERY) else OFF


class ChannelSettingsForm(forms.Form):
    war_room_level = forms.TypedChoiceField(
        label="Open a war room for",
        coerce=int,
        help_text="The incident's live message stream inside Vigil.",
    )
    slack_level = forms.TypedChoiceField(
        label="Create a Slack channel for",
        coerce=int,
        help_text="Needs a bot token. Restricted incidents never get a Slack channel.",
    )
    slack_token = forms.CharField(
        label="Slack bot token",
        required=False,
        max_length=255,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="xoxb-…, with the scopes channels:manage, channels:write.invites, chat:write. "
        "Never shown again; leave empty to keep the saved one.",
    )
    remove_slack_token = forms.BooleanField(label="Remove the saved token", required=False)
    slack_base_url = forms.CharField(
        label="Slack API base URL",
        max_length=200,
        initial="https://slack.com/api/",
        help_text="Change only for a proxy or a test server.",
    )
    slack_channel_prefix = forms.CharField(
        label="Channel name prefix",
        max_length=20,
        required=False,
        help_text="Channels are named prefix + incident key, e.g. inc-acme-42.",
    )
    slack_invitees = forms.CharField(
        label="Invite these Slack members",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Member ids separated by commas, e.g. U024BE7LH, U0G9QF9C6.",
    )
    bridge_level = forms.TypedChoiceField(label="Show a bridge line for", coerce=int)
    bridge_url_pattern = forms.CharField(
        label="Conference URL pattern",
        max_length=300,
        required=False,
        help_text="Placeholders: {key} (ACME-42), {number} (42), {org} (the organisation's "
        "slug). Example: https://meet.example.com/{key}",
    )
    bridge_phone_pattern = forms.CharField(
        label="Dial-in pattern",
        max_length=100,
        required=False,
        help_text="Example: +49 30 1234 5678,,{number}#",
    )

    def __init__(self, *args, organization: Organization, has_token: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_token = has_token
        choices = level_choices(organization)
        for name in ("war_room_level", "slack_level", "bridge_level"):
            self.fields[name].choices = choices
            if name in self.initial:
                self.initial[name] = shown_level(self.initial[name], choices)

    def clean_slack_base_url(self):
        url = self.cleaned_data["slack_base_url"].strip()
        URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")(url)
        return url if url.endswith("/") else url + "/"

    def clean_slack_channel_prefix(self):
        prefix = self.cleaned_data["slack_channel_prefix"].strip().lower()
        if not services.PREFIX.match(prefix):
            raise ValidationError("Up to 20 lower-case letters, digits, - and _ (Slack's rules).")
        return prefix

    def clean_slack_invitees(self):
        try:
            return services.clean_invitees(self.cleaned_data["slack_invitees"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["slack_invitees"]) from None

    def clean(self):
        data = super().clean()
        try:
            data["bridge_url_pattern"], data["bridge_phone_pattern"] = services.clean_bridge(
                data.get("bridge_url_pattern", ""), data.get("bridge_phone_pattern", "")
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field, messages)
        token = data.get("slack_token")
        keeps_token = (self.has_token and not data.get("remove_slack_token")) or bool(token)
        if data.get("slack_level") and not keeps_token:
            self.add_error("slack_token", "Save a Slack bot token to create Slack channels.")
        if (
            data.get("bridge_level")
            and not data.get("bridge_url_pattern")
            and not data.get("bridge_phone_pattern")
            and "bridge_url_pattern" not in self.errors
        ):
            self.add_error(
                "bridge_url_pattern", "Give a conference URL or dial-in pattern for the bridge."
            )
        return data
