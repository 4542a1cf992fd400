"""Every write to incident channels: open them for an incident, attempt (and retry) their
creation, post to the war room, carry broadcasts to every channel, save the organisation's
settings, and sweep what is due.

External providers (Slack) run in Celery tasks. Each attempt claims its row with
`SELECT … FOR UPDATE SKIP LOCKED`, so it runs once however often it is asked; a failure is
recorded on the row (attempts, last error, next attempt after a backoff) and never raised into
the caller. `sweep_channels()` (beat) queues what is due — retries, and work whose Celery
message was lost. Creating channels never blocks or rolls back declaring an incident.
"""

import logging
import re
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.masking import mask_text
from incidents.channels import providers
from incidents.channels.models import (
    OFF,
    ChannelSettings,
    IncidentChannel,
    OutboundChannelMessage,
    Provider,
    WarRoomMessage,
)
from incidents.channels.providers import ProviderError
from incidents.channels.slack import SlackClient, SlackError
from incidents.models import Incident
from tenancy.models import Membership, Organization, User
from tenancy.roles import Capability, Role, can
from tenancy.scoping import org_scope

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
# After queuing a row, the sweeper leaves it alone this long: the queued task will find it.
QUEUE_LEASE = timedelta(minutes=2)
# A Celery ETA may fire a moment before the stored time; do not call that "not due".
DUE_SLACK = timedelta(seconds=2)
ERROR_CHARS = 500
MAX_MESSAGE = 4000
MAX_INVITEES = 50
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
PREFIX = re.compile(r"^[a-z0-9_-]{0,20}$")
PHONE_CHARS = re.compile(r"^[0-9+()#*,;. \-]*$")


def backoff(attempts: int, retry_after: int | None = None) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 1 min, 2 min, … capped at 30 min, and
    never shorter than what the far end asked for."""
    wait = min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)
    if retry_after:
        wait = max(wait, timedelta(seconds=min(retry_after, 3600)))
    return wait


# — helpers ——————————————————————————————————————————————————————————————————————————


def role_of(organization_id: int, user: User | None) -> str | None:
    if user is None:
        return None
    return (
        Membership.objects.with_scopes_disabled()  # the actor's role in this org only
        .filter(organization_id=organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def _require(organization_id: int, actor: User | None, capability: Capability) -> str | None:
    """`actor=None` is Vigil itself (signals, tasks): always allowed."""
    role = role_of(organization_id, actor)
    if actor is not None and not can(role, capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")
    return role


def may_see(incident: Incident, user: User, role: str | None) -> bool:
    """incidents.selectors' visibility rule for one incident and one person."""
    if role is None:
        return False
    if not incident.is_restricted or role == Role.ADMIN:
        return True
    return user.has_perm("incidents.view_incident", incident)


def _enqueue_channel(org_id: int, channel_id: int) -> None:
    from incidents.channels.tasks import create_channel_task

    try:
        create_channel_task.delay(org_id, channel_id)
    except Exception as error:  # the broker is down: the sweeper queues it later
        logger.warning(
            "could not queue channel %s (%s); the sweeper will retry it",
            channel_id,
            type(error).__name__,
        )


def _enqueue_message(org_id: int, message_id: int) -> None:
    from incidents.channels.tasks import post_channel_message_task

    try:
        post_channel_message_task.delay(org_id, message_id)
    except Exception as error:  # the broker is down: the sweeper queues it later
        logger.warning(
            "could not queue channel message %s (%s); the sweeper will retry it",
            message_id,
            type(error).__name__,
        )


def _queue_channel(channel: IncidentChannel) -> None:
    org_id, channel_id = channel.organization_id, channel.pk
    transaction.on_commit(lambda: _enqueue_channel(org_id, channel_id), robust=True)


def _queue_message(message: OutboundChannelMessage) -> None:
    org_id, message_id = message.organization_id, message.pk
    transaction.on_commit(lambda: _enqueue_message(org_id, message_id), robust=True)


def _error_text(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:ERROR_CHARS]


def _settings(organization_id: int) -> ChannelSettings:
    return providers.settings_for(organization_id)


def _wanted(incident: Incident, settings: ChannelSettings) -> list[str]:
    wanted = settings.providers_for(incident.severity.level)
    if incident.is_restricted:
        # Slack membership cannot follow Vigil's access grants: a restricted incident's
        # details stay in Vigil (the war room follows the incident's visibility).
        wanted = [p for p in wanted if p != Provider.SLACK]
    return wanted


# — opening channels ——————————————————————————————————————————————————————————————————


def channels_open(
    *, incident: Incident, actor: User | None = None, now: datetime | None = None
) -> list[IncidentChannel]:
    """Open the channels the organisation's settings give an incident of its severity and
    that it does not have yet (a raised severity may add some; nothing is ever closed here).
    In-app providers are ready at once; external ones are queued. Returns the new rows."""
    role = _require(incident.organization_id, actor, Capability.UPDATE_INCIDENTS)
    if actor is not None and not may_see(incident, actor, role):
        raise PermissionDenied("You have no access to this incident.")
    now = now or timezone.now()
    opened = []
    with org_scope(incident.organization_id), transaction.atomic():
        incident = (
            Incident.objects.select_related("severity", "organization")
            .filter(pk=incident.pk)
            .first()
        )
        if incident is None:
            return []
        settings = _settings(incident.organization_id)
        existing = set(
            IncidentChannel.objects.filter(incident=incident).values_list("provider", flat=True)
        )
        for name in _wanted(incident, settings):
            if name in existing:
                continue
            channel, created = IncidentChannel.objects.get_or_create(
                organization_id=incident.organization_id,
                incident=incident,
                provider=name,
                defaults={"next_attempt_at": now, "created_at": now},
            )
            if not created:
                continue
            channel.incident = incident
            opened.append(channel)
            if providers.get(name).is_external:
                channel.queued_at = now
                channel.save(update_fields=["queued_at"])
                _queue_channel(channel)
            else:
                _attempt(channel, now=now)
    return opened


def _attempt(channel: IncidentChannel, *, now: datetime) -> IncidentChannel:
    """Run the provider's `create` on a claimed row and record what happened."""
    provider = providers.get(channel.provider)
    try:
        with transaction.atomic():  # a savepoint: a database error inside stays inside
            provider.create(channel)
    except Exception as error:  # any provider failure is recorded, never raised
        permanent = getattr(error, "permanent", False)
        retry_after = getattr(error, "retry_after", None)
        if not isinstance(error, ProviderError):
            logger.exception("channel %s (%s) failed unexpectedly", channel.pk, channel.provider)
        channel.attempts += 1
        channel.status = IncidentChannel.Status.FAILED
        channel.last_error = _error_text(error)
        channel.queued_at = None
        if permanent or channel.attempts >= MAX_ATTEMPTS:
            channel.next_attempt_at = None
        else:
            channel.next_attempt_at = now + backoff(channel.attempts, retry_after)
        logger.warning(
            "channel %s (%s) failed, attempt %s: %s",
            channel.pk,
            channel.provider,
            channel.attempts,
            channel.last_error,
        )
    else:
        channel.attempts += 1
        channel.status = IncidentChannel.Status.READY
        channel.last_error = ""
        channel.next_attempt_at = None
        channel.queued_at = None
        channel.ready_at = now
        if provider.is_external and provider.can_post:
            opening = _announce(channel, now=now)
            _queue_message(opening)  # first, so the channel starts with what it is about
            waiting = OutboundChannelMessage.objects.filter(
                channel=channel, status=OutboundChannelMessage.Status.PENDING
            ).exclude(pk=opening.pk)
            for message in waiting:
                message.next_attempt_at = now
                message.queued_at = now
                message.save(update_fields=["next_attempt_at", "queued_at"])
                _queue_message(message)
    channel.save()
    return channel


def _announce(channel: IncidentChannel, *, now: datetime) -> OutboundChannelMessage:
    """The first message in a new external channel: what the incident is and where it is."""
    from incidents.notify import absolute, incident_path

    incident = channel.incident
    text = (
        f"{incident.key} · {incident.severity.name} · {mask_text(incident.title)}\n"
        f"Incident page: {absolute(incident_path(incident))}"
    )
    return OutboundChannelMessage.objects.create(
        organization_id=channel.organization_id,
        channel=channel,
        text=text,
        kind="opening",
        next_attempt_at=now,
        queued_at=now,
        created_at=now,
    )


def channel_attempt(
    *, channel: IncidentChannel, now: datetime | None = None, force: bool = False
) -> IncidentChannel | None:
    """One attempt to create `channel`, if it is due (or `force`). Returns None when it is not
    ours to try — ready already, not due, given up, or another worker holds it. The row is held
    FOR NO KEY UPDATE while Slack answers: other attempts skip it, while a broadcast may still
    queue messages that point at it (a plain FOR UPDATE would make it wait for Slack)."""
    now = now or timezone.now()
    with org_scope(channel.organization_id), transaction.atomic():
        claimed = (
            IncidentChannel.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("incident__severity", "incident__organization")
            .filter(
                pk=channel.pk,
                status__in=[IncidentChannel.Status.PENDING, IncidentChannel.Status.FAILED],
            )
            .first()
        )
        if claimed is None:
            return None
        if not force and (
            claimed.next_attempt_at is None or claimed.next_attempt_at > now + DUE_SLACK
        ):
            return None
        if claimed.incident.is_restricted and providers.get(claimed.provider).is_external:
            claimed.status = IncidentChannel.Status.FAILED
            claimed.last_error = "Not created: the incident is restricted."
            claimed.next_attempt_at = None
            claimed.queued_at = None
            claimed.save()
            return claimed
        return _attempt(claimed, now=now)


def channel_retry(
    *, channel: IncidentChannel, actor: User, now: datetime | None = None
) -> IncidentChannel:
    """ "Retry now": make a channel that is not ready due at once and queue it (in-app
    providers are tried right here)."""
    role = _require(channel.organization_id, actor, Capability.UPDATE_INCIDENTS)
    now = now or timezone.now()
    with org_scope(channel.organization_id), transaction.atomic():
        if not may_see(channel.incident, actor, role):
            raise PermissionDenied("You have no access to this incident.")
        claimed = (
            IncidentChannel.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("incident__severity", "incident__organization")
            .filter(pk=channel.pk)
            .first()
        )
        if claimed is None:
            raise ValidationError("This channel is being created right now. Reload in a moment.")
        if claimed.status == IncidentChannel.Status.READY:
            raise ValidationError(f"The {claimed.get_provider_display()} channel is ready already.")
        claimed.next_attempt_at = now
        if providers.get(claimed.provider).is_external:
            claimed.queued_at = now
            claimed.save(update_fields=["next_attempt_at", "queued_at"])
            _queue_channel(claimed)
            return claimed
        return _attempt(claimed, now=now)


# — the war room ——————————————————————————————————————————————————————————————————————


def _war_room(incident: Incident, now: datetime) -> IncidentChannel:
    channel = IncidentChannel.objects.filter(incident=incident, provider=Provider.WAR_ROOM).first()
    if channel is None:
        channel, _ = IncidentChannel.objects.get_or_create(
            organization_id=incident.organization_id,
            incident=incident,
            provider=Provider.WAR_ROOM,
            defaults={
                "status": IncidentChannel.Status.READY,
                "name": "War room",
                "attempts": 1,
                "created_at": now,
                "ready_at": now,
            },
        )
    return channel


def war_room_post(
    *, incident: Incident, actor: User, text: str, now: datetime | None = None
) -> WarRoomMessage:
    """A responder writes in the incident's war room (which is opened if it was not)."""
    role = _require(incident.organization_id, actor, Capability.COMMENT_INCIDENTS)
    if not may_see(incident, actor, role):
        raise PermissionDenied("You have no access to this incident.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write something first."})
    if len(text) > MAX_MESSAGE:
        raise ValidationError({"text": f"At most {MAX_MESSAGE:,} characters."})
    now = now or timezone.now()
    with org_scope(incident.organization_id), transaction.atomic():
        _war_room(incident, now)
        return WarRoomMessage.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            author=actor,
            kind=WarRoomMessage.Kind.MESSAGE,
            text=text,
            created_at=now,
        )


# — broadcasts ————————————————————————————————————————————————————————————————————————

KIND_LABELS = {
    "status_update": "Status update",
    "decision": "Decision",
    "handoff": "Handoff",
}


def broadcast(
    *,
    organization_id: int,
    incident_id: int,
    text: str,
    kind: str = "broadcast",
    now: datetime | None = None,
) -> dict:
    """Carry `text` to every channel of the incident that takes messages: the war room gets it
    at once, each external channel gets an outbound message (sent by a task, retried; waiting
    while its channel is still being created). Returns how many of each were recorded."""
    now = now or timezone.now()
    text = (text or "").strip()[:MAX_MESSAGE]
    result = {"war_room": 0, "queued": 0}
    if not text:
        return result
    with org_scope(organization_id), transaction.atomic():
        channels = list(
            IncidentChannel.objects.filter(incident_id=incident_id).select_related("incident")
        )
        for channel in channels:
            provider = providers.get(channel.provider)
            if not provider.can_post:
                continue
            if not provider.is_external:
                if channel.status == IncidentChannel.Status.READY:
                    provider.post(channel, text, kind=kind)
                    result["war_room"] += 1
                continue
            if channel.is_given_up:
                continue
            if channel.incident.is_restricted:
                # Restricted after its external channel was opened: its details stay in Vigil
                # (Slack membership cannot follow Vigil's access grants).
                continue
            label = KIND_LABELS.get(kind)
            ready = channel.status == IncidentChannel.Status.READY
            message = OutboundChannelMessage.objects.create(
                organization_id=organization_id,
                channel=channel,
                # An external channel is outside Vigil: personal data is masked.
                text=mask_text(f"{label}: {text}" if label else text),
                kind=kind[:20],
                next_attempt_at=now if ready else None,
                queued_at=now if ready else None,
                created_at=now,
            )
            if ready:
                _queue_message(message)
            result["queued"] += 1
    return result


def outbound_attempt(
    *, message: OutboundChannelMessage, now: datetime | None = None, force: bool = False
) -> OutboundChannelMessage | None:
    """Post one outbound message if it is due. None when it is not ours to send."""
    now = now or timezone.now()
    with org_scope(message.organization_id), transaction.atomic():
        claimed = (
            OutboundChannelMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel")
            .filter(pk=message.pk, status=OutboundChannelMessage.Status.PENDING)
            .first()
        )
        if claimed is None:
            return None
        if not force and (
            claimed.next_attempt_at is None or claimed.next_attempt_at > now + DUE_SLACK
        ):
            return None
        channel = claimed.channel
        if Incident.objects.filter(pk=channel.incident_id, is_restricted=True).exists():
            # Restricted since it was queued: never sent (see broadcast()).
            claimed.status = OutboundChannelMessage.Status.FAILED
            claimed.last_error = "Not sent: the incident is restricted."
            claimed.next_attempt_at = None
            claimed.queued_at = None
            claimed.save(update_fields=["status", "last_error", "next_attempt_at", "queued_at"])
            return claimed
        if channel.status != IncidentChannel.Status.READY:
            # It goes out when the channel is ready (see _attempt).
            claimed.next_attempt_at = None
            claimed.queued_at = None
            claimed.save(update_fields=["next_attempt_at", "queued_at"])
            return claimed
        try:
            claimed.external_id = providers.get(channel.provider).post(
                channel, claimed.text, kind=claimed.kind
            )[:80]
        except Exception as error:  # any provider failure is recorded, never raised
            if not isinstance(error, ProviderError):
                logger.exception("channel message %s failed unexpectedly", claimed.pk)
            claimed.attempts += 1
            claimed.last_error = _error_text(error)
            claimed.queued_at = None
            if getattr(error, "permanent", False) or claimed.attempts >= MAX_ATTEMPTS:
                claimed.status = OutboundChannelMessage.Status.FAILED
                claimed.next_attempt_at = None
            else:
                claimed.next_attempt_at = now + backoff(
                    claimed.attempts, getattr(error, "retry_after", None)
                )
            logger.warning(
                "channel message %s failed, attempt %s: %s",
                claimed.pk,
                claimed.attempts,
                claimed.last_error,
            )
        else:
            claimed.attempts += 1
            claimed.status = OutboundChannelMessage.Status.SENT
            claimed.sent_at = now
            claimed.last_error = ""
            claimed.next_attempt_at = None
            claimed.queued_at = None
        claimed.save()
        return claimed


# — the sweeper ——————————————————————————————————————————————————————————————————————


def sweep_channels(*, now: datetime | None = None, limit: int = 200) -> dict:
    """The safety net, across organisations: claim channels and outbound messages that are
    due (a retry whose backoff is over, or work whose Celery message was lost) and not queued
    in the last QUEUE_LEASE, mark them queued, and queue them after commit."""
    now = now or timezone.now()
    fresh = Q(queued_at__isnull=True) | Q(queued_at__lt=now - QUEUE_LEASE)
    with scopes_disabled(), transaction.atomic():
        # Cross-tenant by design: each row is then worked on in its own organisation's scope.
        channels = list(
            IncidentChannel.objects.with_scopes_disabled()
            .select_for_update(skip_locked=True)
            .filter(
                status__in=[IncidentChannel.Status.PENDING, IncidentChannel.Status.FAILED],
                next_attempt_at__lte=now,
            )
            .filter(fresh)
            .order_by("next_attempt_at")
            .values_list("pk", "organization_id")[:limit]
        )
        messages = list(
            OutboundChannelMessage.objects.with_scopes_disabled()
            .select_for_update(skip_locked=True)
            .filter(status=OutboundChannelMessage.Status.PENDING, next_attempt_at__lte=now)
            .filter(fresh)
            .order_by("next_attempt_at")
            .values_list("pk", "organization_id")[:limit]
        )
        IncidentChannel.objects.with_scopes_disabled().filter(
            pk__in=[pk for pk, _ in channels]
        ).update(queued_at=now)
        OutboundChannelMessage.objects.with_scopes_disabled().filter(
            pk__in=[pk for pk, _ in messages]
        ).update(queued_at=now)
        for channel_id, org_id in channels:
            transaction.on_commit(
                lambda o=org_id, c=channel_id: _enqueue_channel(o, c), robust=True
            )
        for message_id, org_id in messages:
            transaction.on_commit(
                lambda o=org_id, m=message_id: _enqueue_message(o, m), robust=True
            )
    return {"channels": len(channels), "messages": len(messages)}


# — settings ——————————————————————————————————————————————————————————————————————————

SETTINGS_FIELDS = (
    "war_room_level",
    "slack_level",
    "bridge_level",
    "slack_base_url",
    "slack_channel_prefix",
    "slack_invitees",
    "bridge_url_pattern",
    "bridge_phone_pattern",
)


def settings_get(*, organization: Organization) -> ChannelSettings:
    with org_scope(organization):
        return _settings(organization.pk)


def clean_invitees(value: str) -> str:
    ids = [part for part in re.split(r"[\s,]+", (value or "").strip()) if part]
    wrong = [part for part in ids if not SLACK_USER_ID.match(part)]
    if wrong:
        raise ValidationError(
            {
                "slack_invitees": "Not a Slack member id: "
                + ", ".join(wrong[:5])
                + ". Member ids look like U024BE7LH (Slack: profile → ⋮ → Copy member ID)."
            }
        )
    if len(ids) > MAX_INVITEES:
        raise ValidationError({"slack_invitees": f"At most {MAX_INVITEES} people."})
    return ",".join(dict.fromkeys(ids))


def clean_bridge(url_pattern: str, phone_pattern: str) -> tuple[str, str]:
    url_pattern, phone_pattern = (url_pattern or "").strip(), (phone_pattern or "").strip()
    errors = {}
    if url_pattern:
        problems = providers.pattern_problems(url_pattern)
        if not problems:
            sample = providers._PLACEHOLDER.sub("x", url_pattern)
            try:
                URLValidator(schemes=["http", "https"])(sample)
            except ValidationError:
                problems.append(
                    "Enter an http:// or https:// address, e.g. https://meet.example.com/{key}."
                )
        if problems:
            errors["bridge_url_pattern"] = problems
    if phone_pattern:
        problems = providers.pattern_problems(phone_pattern)
        if not PHONE_CHARS.match(providers._PLACEHOLDER.sub("", phone_pattern)):
            problems.append(
                "Use digits, spaces and + ( ) - , ; # * only, plus placeholders such as {number}."
            )
        if problems:
            errors["bridge_phone_pattern"] = problems
    if errors:
        raise ValidationError(errors)
    return url_pattern, phone_pattern


@transaction.atomic
def settings_save(
    *,
    organization: Organization,
    actor: User,
    slack_token: str | None = None,
    remove_slack_token: bool = False,
    **fields,
) -> ChannelSettings:
    """Save the organisation's channel settings. `slack_token=None` keeps the saved token.
    A change that can help Slack channels that gave up (a new token, base URL or invitees)
    schedules them again."""
    _require(organization.pk, actor, Capability.MANAGE_INTEGRATIONS)
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    errors = {}
    for name in ("war_room_level", "slack_level", "bridge_level"):
        if name in fields and not (isinstance(fields[name], int) and 0 <= fields[name] <= 9):
            errors[name] = "Choose a severity (or off)."
    if "slack_base_url" in fields:
        url = (fields["slack_base_url"] or "").strip()
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["slack_base_url"] = "Enter an http:// or https:// URL."
        fields["slack_base_url"] = url if url.endswith("/") else url + "/"
    if "slack_channel_prefix" in fields:
        prefix = (fields["slack_channel_prefix"] or "").strip().lower()
        if not PREFIX.match(prefix):
            errors["slack_channel_prefix"] = (
                "Up to 20 lower-case letters, digits, - and _ (Slack's rules)."
            )
        fields["slack_channel_prefix"] = prefix
    if slack_token is not None:
        slack_token = slack_token.strip()
        if slack_token and not re.match(r"^xox[bp]-[A-Za-z0-9-]{8,250}$", slack_token):
            errors["slack_token"] = (
                "A Slack bot token starts with xoxb- (Slack: OAuth & Permissions)."  # noqa: S105
            )
    if errors:
        raise ValidationError(errors)
    if "slack_invitees" in fields:
        fields["slack_invitees"] = clean_invitees(fields["slack_invitees"])
    if "bridge_url_pattern" in fields or "bridge_phone_pattern" in fields:
        fields["bridge_url_pattern"], fields["bridge_phone_pattern"] = clean_bridge(
            fields.get("bridge_url_pattern", ""), fields.get("bridge_phone_pattern", "")
        )
    with org_scope(organization):
        settings = ChannelSettings.objects.select_for_update().filter(
            organization=organization
        ).first() or ChannelSettings(organization=organization)
        before = (settings.slack_token, settings.slack_base_url, settings.slack_invitees)
        for name, value in fields.items():
            setattr(settings, name, value)
        moved = settings.slack_token and settings.slack_base_url != before[1]
        if moved and not slack_token and not remove_slack_token:
            # The saved token is never sent to a new address: whoever changes where Slack
            # is must give the token again (else the token could be read off the wire).
            raise ValidationError(
                {"slack_token": "Enter the bot token again when you change the Slack base URL."}
            )
        if remove_slack_token:
            settings.slack_token = ""
            settings.slack_team_id = settings.slack_team_name = ""
            settings.slack_checked_at = None
        elif slack_token:
            if slack_token != settings.slack_token:
                settings.slack_team_id = settings.slack_team_name = ""
                settings.slack_checked_at = None
            settings.slack_token = slack_token
        problems = {}
        if settings.slack_level != OFF and not settings.slack_token:
            problems["slack_token"] = "Save a Slack bot token to create Slack channels."  # noqa: S105
        if settings.bridge_level != OFF and not (
            settings.bridge_url_pattern or settings.bridge_phone_pattern
        ):
            problems["bridge_url_pattern"] = (
                "Give a conference URL or dial-in pattern for the bridge."
            )
        if problems:
            raise ValidationError(problems)
        settings.updated_at = timezone.now()
        settings.save()
        after = (settings.slack_token, settings.slack_base_url, settings.slack_invitees)
        if settings.slack_token and after != before:
            _reschedule_given_up_slack(organization)
        return settings


def _reschedule_given_up_slack(organization: Organization) -> int:
    from incidents.lifecycle import OPEN_STATES

    now = timezone.now()
    count = 0
    for channel in IncidentChannel.objects.filter(
        organization=organization,
        provider=Provider.SLACK,
        status=IncidentChannel.Status.FAILED,
        next_attempt_at__isnull=True,
        incident__status__in=OPEN_STATES,
    ):
        channel.next_attempt_at = now
        channel.queued_at = now
        channel.save(update_fields=["next_attempt_at", "queued_at"])
        _queue_channel(channel)
        count += 1
    return count


@transaction.atomic
def slack_test_connection(*, organization: Organization, actor: User) -> ChannelSettings:
    """Call Slack's `auth.test` with the saved token; remember the workspace it answers for
    (its id builds the channel links). Raises ValidationError saying what went wrong."""
    _require(organization.pk, actor, Capability.MANAGE_INTEGRATIONS)
    with org_scope(organization):
        settings = (
            ChannelSettings.objects.select_for_update().filter(organization=organization).first()
        )
        if settings is None or not settings.slack_token:
            raise ValidationError("Save a Slack bot token first.")
        client = SlackClient(token=settings.slack_token, base_url=settings.slack_base_url)
        try:
            answer = client.auth_test()
        except SlackError as error:
            hints = {
                "invalid_auth": "The token is not valid: copy the Bot User OAuth Token again.",
                "not_authed": "Slack got no token.",
                "token_revoked": "The token was revoked: reinstall the app and save the new one.",
                "unreachable": "Vigil could not reach the Slack API at the base URL.",
            }
            raise ValidationError(
                f"Slack connection failed ({error.code}). {hints.get(error.code, '')}".strip()
            ) from None
        settings.slack_team_id = str(answer.get("team_id", ""))[:20]
        settings.slack_team_name = str(answer.get("team", ""))[:120]
        settings.slack_checked_at = timezone.now()
        settings.save(update_fields=["slack_team_id", "slack_team_name", "slack_checked_at"])
        return settings
