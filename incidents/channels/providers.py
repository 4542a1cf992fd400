"""Channel providers: one interface, a registry by name, three providers.

A provider knows how to `create(channel)` — fill in the IncidentChannel's name, external id,
URL — and how to `post(channel, text)`. It raises `ProviderError` when it cannot; the services
record the failure on the row and retry. Providers do not save the row and do not check
permissions: incidents.channels.services does both.
"""

import re
from urllib.parse import quote

from django.utils import timezone

from incidents.channels.models import ChannelSettings, IncidentChannel, Provider, WarRoomMessage
from incidents.channels.slack import SlackClient, SlackError, channel_name

NAME_TAKEN_TRIES = 10
PLACEHOLDERS = ("key", "number", "org")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class ProviderError(Exception):
    """The provider could not do it. `permanent`: retrying will not help until someone changes
    the settings; `retry_after`: seconds the far end asked us to wait."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ChannelProvider:
    name: str = ""
    label: str = ""
    # External providers talk to another service: they run in Celery tasks, with retries.
    is_external: bool = False
    can_post: bool = True

    def create(self, channel: IncidentChannel) -> None:
        raise NotImplementedError

    def post(self, channel: IncidentChannel, text: str, *, kind: str = "broadcast") -> str:
        raise NotImplementedError


REGISTRY: dict[str, ChannelProvider] = {}


def register(provider: ChannelProvider) -> ChannelProvider:
    REGISTRY[provider.name] = provider
    return provider


def get(name: str) -> ChannelProvider:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ProviderError(f"No channel provider called “{name}”.", permanent=True) from None


def settings_for(organization_id: int) -> ChannelSettings:
    """The organisation's channel settings, or the defaults when it never saved any."""
    return ChannelSettings.objects.filter(
        organization_id=organization_id
    ).first() or ChannelSettings(organization_id=organization_id)


# — war room ——————————————————————————————————————————————————————————————————————————


class WarRoomProvider(ChannelProvider):
    """The incident's own message stream inside Vigil: nothing to reach, ready at once."""

    name = Provider.WAR_ROOM
    label = "War room"

    def create(self, channel: IncidentChannel) -> None:
        incident = channel.incident
        channel.name = "War room"
        channel.url = ""  # built from the incident's key by the templates
        if not WarRoomMessage.objects.filter(incident=incident).exists():
            WarRoomMessage.objects.create(
                organization_id=incident.organization_id,
                incident=incident,
                author=None,
                kind=WarRoomMessage.Kind.SYSTEM,
                text=(
                    f"War room opened for {incident.key} · {incident.severity.name}. "
                    "Everything posted here is kept with the incident."
                ),
            )

    def post(self, channel: IncidentChannel, text: str, *, kind: str = "broadcast") -> str:
        if kind not in WarRoomMessage.Kind.values or kind == WarRoomMessage.Kind.MESSAGE:
            kind = WarRoomMessage.Kind.BROADCAST
        message = WarRoomMessage.objects.create(
            organization_id=channel.organization_id,
            incident_id=channel.incident_id,
            author=None,
            kind=kind,
            text=text,
        )
        return str(message.pk)


# — Slack ————————————————————————————————————————————————————————————————————————————


def slack_client(settings: ChannelSettings) -> SlackClient:
    if not settings.slack_token:
        raise ProviderError("No Slack bot token is saved in the channel settings.", permanent=True)
    return SlackClient(token=settings.slack_token, base_url=settings.slack_base_url)


def _slack_failure(error: SlackError, doing: str) -> ProviderError:
    return ProviderError(
        f"{doing}: {error}", permanent=error.permanent, retry_after=error.retry_after
    )


class SlackProvider(ChannelProvider):
    """A Slack channel per incident: conversations.create (name from the key; a taken name
    gets -2, -3, …), conversations.invite (the organisation's invitees), chat.postMessage."""

    name = Provider.SLACK
    label = "Slack"
    is_external = True

    def create(self, channel: IncidentChannel) -> None:
        settings = settings_for(channel.organization_id)
        client = slack_client(settings)
        if not channel.external_id:  # a retry after a failed invite does not create twice
            base = channel_name(settings.slack_channel_prefix, channel.incident.key)
            created = None
            for attempt in range(1, NAME_TAKEN_TRIES + 1):
                name = (
                    base
                    if attempt == 1
                    else channel_name(
                        settings.slack_channel_prefix, channel.incident.key, f"-{attempt}"
                    )
                )
                try:
                    created = client.create_channel(name)
                    break
                except SlackError as error:
                    if error.code != "name_taken":
                        raise _slack_failure(error, "Creating the channel failed") from None
            if created is None:
                raise ProviderError(
                    f"Every channel name from #{base} to #{base}-{NAME_TAKEN_TRIES} is taken."
                )
            channel.external_id = str(created.get("id", ""))[:80]
            channel.name = f"#{created.get('name') or name}"[:120]
            if not channel.external_id:
                raise ProviderError("Slack created a channel but sent no channel id.")
        if settings.slack_team_id:
            channel.url = (
                f"https://app.slack.com/client/{settings.slack_team_id}/{channel.external_id}"
            )
        invitees = settings.invitee_ids
        if invitees and channel.invited_at is None:
            try:
                client.invite(channel.external_id, invitees)
            except SlackError as error:
                raise _slack_failure(error, "Inviting people failed") from None
            channel.invited_at = timezone.now()

    def post(self, channel: IncidentChannel, text: str, *, kind: str = "broadcast") -> str:
        client = slack_client(settings_for(channel.organization_id))
        try:
            return client.post_message(channel.external_id, text)
        except SlackError as error:
            raise _slack_failure(error, "Posting failed") from None


# — bridge line ——————————————————————————————————————————————————————————————————————


def pattern_problems(pattern: str) -> list[str]:
    """What is wrong with a bridge pattern's placeholders (empty when nothing)."""
    problems = []
    for field in _PLACEHOLDER.findall(pattern):
        if field not in PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            problems.append(f"Unknown placeholder {{{field}}}: use {allowed}.")
    leftover = _PLACEHOLDER.sub("", pattern)
    if "{" in leftover or "}" in leftover:
        problems.append("A brace is not closed: placeholders look like {key}.")
    return problems


def fill(pattern: str, incident, *, for_url: bool) -> str:
    """The pattern with {key}, {number} and {org} filled from the incident."""
    values = {
        "key": incident.key,
        "number": str(incident.number),
        "org": incident.organization.slug,
    }

    def value(match):
        text = values.get(match.group(1), match.group(0))
        return quote(text, safe="") if for_url else text

    return _PLACEHOLDER.sub(value, pattern)


class BridgeProvider(ChannelProvider):
    """The organisation's conference line, filled with the incident's key. Nothing to create
    elsewhere and nothing to post to: it is a link and a phone number on the incident."""

    name = Provider.BRIDGE
    label = "Bridge line"
    can_post = False

    def create(self, channel: IncidentChannel) -> None:
        settings = settings_for(channel.organization_id)
        if not (settings.bridge_url_pattern or settings.bridge_phone_pattern):
            raise ProviderError(
                "No bridge pattern is saved in the channel settings.", permanent=True
            )
        channel.name = "Bridge"
        channel.url = fill(settings.bridge_url_pattern, channel.incident, for_url=True)[:500]
        channel.phone = fill(settings.bridge_phone_pattern, channel.incident, for_url=False)[:120]

    def post(self, channel: IncidentChannel, text: str, *, kind: str = "broadcast") -> str:
        return ""


register(WarRoomProvider())
register(SlackProvider())
register(BridgeProvider())
