"""The one notification service: the in-app inbox, e-mail and the organisation's chat webhooks.

`notify_users()` and `post_to_chat()` record what must be sent — a Notification per person
(always in their inbox) and a Delivery per channel — in the caller's transaction, and queue
each new Delivery once that transaction commits. `deliver()` sends one Delivery, claiming it
with SKIP LOCKED so it is sent once however often it is asked. `sweep_deliveries()` (beat) is
the safety net: it re-queues every pending Delivery that is due — retries after a failure, and
messages Redis lost. A failed delivery is retried with backoff, then marked failed for an admin
to see; it never blocks or rolls back the change that caused it.

Everything is idempotent by the caller's `key`: a second call with the same key records
nothing new and reports what the first call recorded.
"""

import hashlib
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance import unmask
from compliance.masking import mask_text
from incidents.models import ChatWebhook, Delivery, Incident, Notification, NotificationPreference
from tenancy.models import Membership, Organization, User
from tenancy.roles import Capability, Role, can
from tenancy.scoping import org_scope

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
# After the sweeper re-queues a delivery it leaves it alone this long, so a slow queue does not
# fill up with copies of the same message (a copy would find the delivery claimed or sent).
REQUEUE_LEASE = timedelta(minutes=2)
CHAT_TIMEOUT_SECONDS = 5
ERROR_CHARS = 500
# Payload keys starting with "_" are Vigil's own bookkeeping and are not sent.
NOTIFIED_KEY = "_notified"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 1 min, 2 min, … capped at 30 min."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


# — helpers ——————————————————————————————————————————————————————————————————————————


def _check_incident(organization: Organization, incident: Incident | None) -> None:
    if incident is not None and incident.organization_id != organization.pk:
        raise ValidationError({"incident": "That incident belongs to another organisation."})


def _require(organization: Organization, actor: User, capability: Capability) -> None:
    role = (
        Membership.objects.filter(organization=organization, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if not can(role, capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")


def incident_path(incident: Incident) -> str:
    return reverse(
        "incidents:incident_detail",
        kwargs={"org_slug": incident.organization.slug, "key": incident.key},
    )


def absolute(path: str) -> str:
    return path if "://" in path else f"{settings.SITE_URL}{path}"


def _queue(delivery: Delivery) -> None:
    """Send `delivery` from a worker once the caller's transaction commits. If the broker is
    down the change still commits (robust): the sweeper finds the delivery due and sends it."""
    org_id, delivery_id = delivery.organization_id, delivery.pk
    # A function, not a functools.partial: Django logs a robust hook's failure by __qualname__.
    transaction.on_commit(lambda: _enqueue(org_id, delivery_id), robust=True)


def _enqueue(org_id: int, delivery_id: int) -> None:
    from incidents.tasks import deliver_task

    deliver_task.delay(org_id, delivery_id)


def _may_see(incident: Incident, user: User, role: str | None) -> bool:
    """The visibility rule of incidents.selectors, for one person and one incident."""
    if not incident.is_restricted or role == Role.ADMIN:
        return True
    return user.has_perm("incidents.view_incident", incident)


def _restricted_title(incident: Incident) -> str:
    return f"{incident.key} · restricted incident"


RESTRICTED_BODY = (
    "This incident is restricted: its details are visible only to people with access. "
    "Ask an admin of the organisation if you need it."
)


def _webhooks(organization: Organization, severity_level: int | None) -> list[ChatWebhook]:
    """The active webhooks that want to hear about this severity (all of them when there is
    no severity, e.g. a test message)."""
    webhooks = ChatWebhook.objects.filter(organization=organization, is_active=True)
    if severity_level is not None:
        webhooks = webhooks.filter(min_severity_level__gte=severity_level)
    return list(webhooks.order_by("pk"))


# — chat messages ——————————————————————————————————————————————————————————————————————


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chat_payload(*, incident: Incident | None, text: str, context: str = "") -> dict:
    """A Slack incoming-webhook message: `text` (the fallback every client shows) and blocks
    with the incident's key, title, severity, status and a link to it. A chat channel is
    outside Vigil: personal data in the text and title is always masked."""
    text = mask_text(text)
    blocks: list[dict] = []
    if incident is not None:
        title = "restricted incident" if incident.is_restricted else mask_text(incident.title)
        link = absolute(incident_path(incident))
        headline = f"*<{link}|{_escape(incident.key)} · {_escape(title)}>*"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{headline}\n{_escape(text)}"},
                "fields": [
                    {"type": "mrkdwn", "text": f"*Severity*\n{_escape(incident.severity.name)}"},
                    {"type": "mrkdwn", "text": f"*Status*\n{incident.get_status_display()}"},
                ],
            }
        )
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _escape(text)}})
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(context)}]}
        )
    return {"text": text, "blocks": blocks}


# — recording ——————————————————————————————————————————————————————————————————————————


def _email_payload(
    organization: Organization,
    incident: Incident | None,
    title: str,
    body: str,
    url: str,
    *,
    reveal: bool = False,
) -> dict:
    """One recipient's e-mail: `title` and `body` as they may read them (already masked by
    the caller); the incident's own title masked unless `reveal`."""
    subject = title
    if incident is not None and not title.startswith(incident.key):
        subject = f"{incident.key} · {title}"
    lines = [title, ""]
    if body:
        lines += [body, ""]
    if incident is not None:
        shown = (
            "restricted incident"
            if incident.is_restricted
            else mask_text(incident.title, reveal=reveal)
        )
        lines.append(
            f"Incident: {incident.key} · {shown} "
            f"({incident.severity.name}, {incident.get_status_display()})"
        )
    if url:
        lines.append(f"Open in Vigil: {absolute(url)}")
    preferences = reverse("notifications:preference_update", kwargs={"org_slug": organization.slug})
    lines += [
        "",
        "—",
        f"You get this e-mail as a member of {organization.name} in Vigil. "
        f"Choose what reaches you: {absolute(preferences)}",
    ]
    return {"subject": subject[:250], "body": "\n".join(lines)}


def notify_users(
    *,
    organization: Organization,
    users,
    kind: str,
    title: str,
    body: str = "",
    incident: Incident | None = None,
    url: str = "",
    severity_level: int | None = None,
    key: str,
    now: datetime | None = None,
) -> list[dict]:
    """Tell each of `users` (members of `organization`; others are skipped) about something:
    one Notification in their inbox, an e-mail unless their preferences or quiet hours say
    no (Sev-1 breaks through quiet hours), and a mention in the organisation's chat webhooks
    if they have chat on (one chat message per webhook for everyone, not one per person).

    Idempotent by `key`: a second call records nothing new. Runs in the caller's transaction
    and queues new deliveries on commit. Returns, per person, the channels recorded:
    `[{"user": 7, "channels": ["inbox", "email", "chat"]}, …]`.

    People who may not see a restricted incident get a notification that names only its key."""
    _check_incident(organization, incident)
    now = now or timezone.now()
    if incident is not None:
        if severity_level is None:
            severity_level = incident.severity.level
        url = url or incident_path(incident)
    people = list({user.pk: user for user in users if user is not None}.values())
    with org_scope(organization), transaction.atomic():
        roles = dict(
            Membership.objects.filter(
                organization=organization, user_id__in=[user.pk for user in people]
            ).values_list("user_id", "role")
        )
        people = [user for user in people if user.pk in roles and user.is_active]
        preferences = {
            preference.user_id: preference
            for preference in NotificationPreference.objects.filter(
                organization=organization, user_id__in=[user.pk for user in people]
            )
        }
        # Personal data is masked per recipient: unmasked only for those who revealed the
        # incident (compliance.unmask; one query for everyone).
        revealed = unmask.revealed_recipients(
            incident=incident, roles={user.pk: roles[user.pk] for user in people}, now=now
        )
        channels: dict[int, list[str]] = {}
        wants_chat: list[User] = []
        for user in people:
            preference = preferences.get(user.pk) or NotificationPreference(
                organization=organization, user=user
            )
            visible = incident is None or _may_see(incident, user, roles[user.pk])
            reveal = user.pk in revealed
            shown_title = (
                mask_text(title, reveal=reveal) if visible else _restricted_title(incident)
            )
            shown_body = mask_text(body, reveal=reveal) if visible else RESTRICTED_BODY
            notification, created = Notification.objects.get_or_create(
                organization=organization,
                idempotency_key=f"{key}:{user.pk}",
                defaults={
                    "recipient": user,
                    "incident": incident,
                    "kind": kind,
                    "title": shown_title[:200],
                    "body": shown_body,
                    "url": url[:300],
                    "severity_level": severity_level,
                    "created_at": now,
                },
            )
            channels[user.pk] = ["inbox"]
            email_key = f"{key}:{user.pk}:email"
            if created:
                quiet = severity_level != 1 and preference.in_quiet_hours(now, organization.tzinfo)
                if preference.email and user.email and not quiet:
                    delivery, new = Delivery.objects.get_or_create(
                        organization=organization,
                        idempotency_key=email_key,
                        defaults={
                            "notification": notification,
                            "channel": Delivery.Channel.EMAIL,
                            "target": user.email,
                            "payload": _email_payload(
                                organization, incident, shown_title, shown_body, url, reveal=reveal
                            ),
                            "next_attempt_at": now,
                            "created_at": now,
                        },
                    )
                    if new:
                        _queue(delivery)
                    channels[user.pk].append("email")
                if preference.chat:
                    wants_chat.append(user)
            elif Delivery.objects.filter(
                organization=organization, idempotency_key=email_key
            ).exists():
                channels[user.pk].append("email")
        for user_id in _record_chat_mentions(
            organization, incident, title, severity_level, key, wants_chat, now
        ):
            if user_id in channels:
                channels[user_id].append("chat")
    return [{"user": user.pk, "channels": channels[user.pk]} for user in people]


def _record_chat_mentions(
    organization, incident, title, severity_level, key, wants_chat, now
) -> set[int]:
    """One chat message per matching webhook naming everyone (of this call) who has chat on.
    Returns the ids of the people the recorded messages name, this call's or an earlier one's."""
    prefix = f"{key}:notify-chat:"
    mentioned: set[int] = set()
    for delivery in Delivery.objects.filter(
        organization=organization, idempotency_key__startswith=prefix
    ):
        mentioned.update(delivery.payload.get(NOTIFIED_KEY, []))
    if mentioned or not wants_chat:
        return mentioned
    if incident is not None and incident.is_restricted:
        text = f"{incident.key} ({incident.severity.name}, restricted) needs attention."
    else:
        text = title
    names = ", ".join(user.display_name for user in wants_chat)
    payload = chat_payload(incident=incident, text=text, context=f"Notifying: {names}")
    payload[NOTIFIED_KEY] = [user.pk for user in wants_chat]
    for webhook in _webhooks(organization, severity_level):
        delivery, new = Delivery.objects.get_or_create(
            organization=organization,
            idempotency_key=f"{prefix}{webhook.pk}",
            defaults={
                "channel": Delivery.Channel.CHAT,
                "target": webhook.url,
                "payload": payload,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        if new:
            _queue(delivery)
        mentioned.update(payload[NOTIFIED_KEY])
    return mentioned


def post_to_chat(
    *,
    organization: Organization,
    incident: Incident,
    text: str,
    key: str,
    now: datetime | None = None,
) -> int:
    """Post `text` about `incident` to every active chat webhook of the organisation that wants
    its severity. Idempotent by `key`; queued on commit. Returns how many webhooks it was
    recorded for. A restricted incident is announced by key and severity only."""
    _check_incident(organization, incident)
    now = now or timezone.now()
    if incident.is_restricted:
        text = f"{incident.key} ({incident.severity.name}, restricted) needs attention."
    payload = chat_payload(incident=incident, text=text)
    with org_scope(organization), transaction.atomic():
        webhooks = _webhooks(organization, incident.severity.level)
        for webhook in webhooks:
            delivery, new = Delivery.objects.get_or_create(
                organization=organization,
                idempotency_key=f"{key}:chat:{webhook.pk}",
                defaults={
                    "channel": Delivery.Channel.CHAT,
                    "target": webhook.url,
                    "payload": payload,
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
            if new:
                _queue(delivery)
    return len(webhooks)


# — e-mail with attachments ————————————————————————————————————————————————————————————

# Stored files an e-mail can carry, by kind: loader(org_id, id) -> (filename, bytes, mime type).
# The app that stores them registers its loader in its ready() (compliance.reports: reports).
# A delivery names its attachments (payload "_attachments": [{"kind": …, "id": …}]) and the
# bytes are read when it is sent, so a retry sends the same stored file.
ATTACHMENT_LOADERS: dict[str, Callable[[int, int], tuple[str, bytes, str]]] = {}
ATTACHMENTS_KEY = "_attachments"


def register_attachment_loader(kind: str, loader: Callable[[int, int], tuple]) -> None:
    ATTACHMENT_LOADERS[kind] = loader


def email_with_attachments(
    *,
    organization: Organization,
    to: list[tuple[str, str]],
    subject: str,
    body: str,
    attachments: list[dict],
    key: str,
    now: datetime | None = None,
) -> list[Delivery]:
    """E-mail each (name, address) of `to` — members or not — a message carrying stored files,
    one Delivery per address, sent by workers after commit and retried by the sweep like any
    other. Not subject to preferences or quiet hours: the sender chose the recipients.
    Idempotent by `key`. Returns the deliveries in the order of `to`."""
    for attachment in attachments:
        if attachment.get("kind") not in ATTACHMENT_LOADERS:
            raise ValidationError(f"Unknown attachment kind {attachment.get('kind')!r}.")
    now = now or timezone.now()
    deliveries = []
    with org_scope(organization), transaction.atomic():
        for name, address in to:
            delivery, new = Delivery.objects.get_or_create(
                organization=organization,
                # The address hashed: a 254-character address must not overflow the key.
                idempotency_key=f"{key}:{hashlib.sha256(address.lower().encode()).hexdigest()[:32]}",
                defaults={
                    "channel": Delivery.Channel.EMAIL,
                    "target": address,
                    "payload": {
                        "subject": subject[:250],
                        "body": f"Dear {name},\n\n{body}" if name else body,
                        ATTACHMENTS_KEY: attachments,
                    },
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
            if new:
                _queue(delivery)
            deliveries.append(delivery)
    return deliveries


# — sending ——————————————————————————————————————————————————————————————————————————


class DeliveryError(Exception):
    """The channel refused or could not be reached."""


def _send_email(delivery: Delivery) -> None:
    payload = delivery.payload or {}
    if payload.get(ATTACHMENTS_KEY):
        message = EmailMessage(
            payload.get("subject", "Vigil notification"),
            payload.get("body", ""),
            None,
            [delivery.target],
        )
        for attachment in payload[ATTACHMENTS_KEY]:
            loader = ATTACHMENT_LOADERS.get(attachment.get("kind"))
            if loader is None:
                raise DeliveryError(
                    f"No loader for attachments of kind {attachment.get('kind')!r}."
                )
            try:
                message.attach(*loader(delivery.organization_id, attachment["id"]))
            except Exception as error:  # a purged or unreadable file: record it, retry, fail
                raise DeliveryError(f"Could not read the attachment: {error}") from error
        message.send(fail_silently=False)
        return
    send_mail(
        payload.get("subject", "Vigil notification"),
        payload.get("body", ""),
        None,
        [delivery.target],
        fail_silently=False,
    )


def _send_chat(delivery: Delivery) -> None:
    if not delivery.target.lower().startswith(("http://", "https://")):
        raise DeliveryError("The webhook URL is not an http(s) URL.")
    message = {k: v for k, v in (delivery.payload or {}).items() if not k.startswith("_")}
    request = urllib.request.Request(  # noqa: S310 — http(s) only, checked above
        delivery.target,
        data=json.dumps(message).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Vigil notifications"},
    )
    try:
        with urllib.request.urlopen(request, timeout=CHAT_TIMEOUT_SECONDS) as response:  # noqa: S310
            if not 200 <= response.status < 300:
                raise DeliveryError(f"HTTP {response.status} {response.reason}")
    except urllib.error.HTTPError as error:
        detail = error.read(200).decode("utf-8", "replace").strip() if error.fp else ""
        raise DeliveryError(
            f"HTTP {error.code} {error.reason}" + (f": {detail}" if detail else "")
        ) from error
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryError(f"Could not reach the webhook: {reason}") from error


SENDERS = {Delivery.Channel.EMAIL: _send_email, Delivery.Channel.CHAT: _send_chat}


def deliver(*, delivery: Delivery, now: datetime | None = None) -> Delivery | None:
    """Send one pending delivery. Returns None when it is not ours to send — another worker
    holds it, or it was sent or gave up already — so a repeated task sends nothing twice.
    A failure is recorded (attempts, last error, the next attempt after a backoff; failed
    after MAX_ATTEMPTS) and never raised."""
    with org_scope(delivery.organization_id), transaction.atomic():
        claimed = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery.pk, status=Delivery.Status.PENDING)
            .first()
        )
        if claimed is None:
            return None
        try:
            SENDERS[claimed.channel](claimed)
        except Exception as error:  # any failure of the channel is recorded, never raised
            when = now or timezone.now()
            claimed.attempts += 1
            claimed.last_error = (str(error) or type(error).__name__)[:ERROR_CHARS]
            claimed.next_attempt_at = when + backoff(claimed.attempts)
            if claimed.attempts >= MAX_ATTEMPTS:
                claimed.status = Delivery.Status.FAILED
            logger.warning(
                "delivery %s (%s) failed, attempt %s: %s",
                claimed.pk,
                claimed.channel,
                claimed.attempts,
                claimed.last_error,
            )
        else:
            claimed.status = Delivery.Status.SENT
            claimed.sent_at = now or timezone.now()
        claimed.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "sent_at"]
        )
        return claimed


def _requeue(org_id: int, delivery_id: int) -> None:
    """Queue one delivery; if the broker refuses, send it here and now."""
    try:
        _enqueue(org_id, delivery_id)
    except Exception:  # the broker is down: do not wait for it
        logger.warning("could not queue delivery %s; sending it directly", delivery_id)
        with org_scope(org_id):
            delivery = Delivery.objects.filter(pk=delivery_id).first()
            if delivery is not None:
                deliver(delivery=delivery)


def sweep_deliveries(*, now: datetime | None = None, limit: int = 200) -> int:
    """The safety net, across organisations: claim pending deliveries that are due (a retry
    whose backoff is over, or a message Redis lost), give each a lease so the next sweep does
    not queue it again, and queue it (or send it directly when the broker is down) after
    commit. Returns how many it picked up."""
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        due = list(
            # Cross-tenant by design: each delivery is then sent in its own org's scope.
            Delivery.objects.with_scopes_disabled()
            .select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", "organization_id")[:limit]
        )
        if not due:
            return 0
        Delivery.objects.with_scopes_disabled().filter(pk__in=[pk for pk, _ in due]).update(
            next_attempt_at=now + REQUEUE_LEASE
        )
        for delivery_id, org_id in due:
            transaction.on_commit(lambda o=org_id, d=delivery_id: _requeue(o, d), robust=True)
    return len(due)


# — the inbox ——————————————————————————————————————————————————————————————————————————


def notification_list(*, organization: Organization, user: User) -> QuerySet[Notification]:
    """`user`'s notifications in `organization`, newest first."""
    return (
        Notification.objects.filter(organization=organization, recipient=user)
        .select_related("incident__severity")
        .order_by("-created_at", "-pk")
    )


def unread_count(*, organization: Organization, user: User) -> int:
    """One indexed count: the bell in the header."""
    with org_scope(organization):
        return Notification.objects.filter(
            organization=organization, recipient=user, read_at__isnull=True
        ).count()


def mark_read(*, organization: Organization, user: User, ids=None) -> int:
    """Mark `user`'s notifications read — those in `ids`, or all of them (None). Ids of other
    people's notifications are ignored. Returns how many changed."""
    with org_scope(organization):
        unread = Notification.objects.filter(
            organization=organization, recipient=user, read_at__isnull=True
        )
        if ids is not None:
            unread = unread.filter(pk__in=list(ids))
        return unread.update(read_at=timezone.now())


# — settings: preferences, chat webhooks, retries ———————————————————————————————————————


def preference_get(*, organization: Organization, user: User) -> NotificationPreference:
    """The person's preferences, or the defaults (unsaved) when they never chose."""
    with org_scope(organization):
        return NotificationPreference.objects.filter(
            organization=organization, user=user
        ).first() or NotificationPreference(organization=organization, user=user)


@transaction.atomic
def preference_save(
    *,
    organization: Organization,
    user: User,
    email: bool,
    chat: bool,
    quiet_start: time | None,
    quiet_end: time | None,
    timezone_name: str = "",
) -> NotificationPreference:
    """Save what reaches `user` from `organization`. Quiet hours need both ends."""
    if (quiet_start is None) != (quiet_end is None):
        raise ValidationError("Give both the start and the end of your quiet hours, or neither.")
    if quiet_start is not None and quiet_start == quiet_end:
        raise ValidationError(
            {"quiet_end": "Quiet hours must end at another time than they start."}
        )
    with org_scope(organization):
        if not Membership.objects.filter(organization=organization, user=user).exists():
            raise PermissionDenied("Only members have preferences here.")
        preference, _ = NotificationPreference.objects.update_or_create(
            organization=organization,
            user=user,
            defaults={
                "email": email,
                "chat": chat,
                "quiet_start": quiet_start,
                "quiet_end": quiet_end,
                "timezone": timezone_name,
            },
        )
        return preference


def _check_url(url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise ValidationError({"url": "Enter an http:// or https:// URL."})


@transaction.atomic
def chat_webhook_save(
    *,
    organization: Organization,
    actor: User,
    webhook: ChatWebhook | None = None,
    name: str,
    url: str,
    min_severity_level: int,
    is_active: bool = True,
) -> ChatWebhook:
    """Add (webhook=None) or change an outbound chat webhook."""
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_ORGANIZATION)
        _check_url(url)
        if webhook is None:
            webhook = ChatWebhook(organization=organization)
        elif webhook.organization_id != organization.pk:
            raise PermissionDenied("That webhook belongs to another organisation.")
        old_url = webhook.url if webhook.pk else None
        webhook.name = name.strip()
        webhook.url = url.strip()
        webhook.min_severity_level = min_severity_level
        webhook.is_active = is_active
        webhook.save()
        _follow_webhook(webhook, old_url)
        return webhook


def _follow_webhook(webhook: ChatWebhook, old_url: str | None) -> None:
    """Deliveries waiting for a webhook follow its changes: a corrected URL is where retries
    go, and a deactivated webhook gets nothing more (its waiting messages are skipped)."""
    organization_id = webhook.organization_id
    others = ChatWebhook.objects.filter(organization_id=organization_id).exclude(pk=webhook.pk)
    waiting = Delivery.objects.filter(
        organization_id=organization_id,
        channel=Delivery.Channel.CHAT,
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
    )
    if old_url and old_url != webhook.url and not others.filter(url=old_url).exists():
        for delivery in waiting.filter(target=old_url):
            delivery.target = webhook.url
            delivery.save(update_fields=["target"])
    if not webhook.is_active and not others.filter(url=webhook.url, is_active=True).exists():
        for delivery in waiting.filter(target=webhook.url, status=Delivery.Status.PENDING):
            delivery.status = Delivery.Status.SKIPPED
            delivery.last_error = f"The webhook “{webhook.name}” was deactivated."
            delivery.save(update_fields=["status", "last_error"])


@transaction.atomic
def chat_webhook_set_active(
    *, organization: Organization, actor: User, webhook: ChatWebhook, is_active: bool
) -> ChatWebhook:
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_ORGANIZATION)
        if webhook.organization_id != organization.pk:
            raise PermissionDenied("That webhook belongs to another organisation.")
        webhook.is_active = is_active
        webhook.save(update_fields=["is_active"])
        _follow_webhook(webhook, webhook.url)
        return webhook


@transaction.atomic
def chat_webhook_send_test(
    *, organization: Organization, actor: User, webhook: ChatWebhook
) -> Delivery:
    """Queue a test message to one webhook (active or not), delivered like any other."""
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_ORGANIZATION)
        if webhook.organization_id != organization.pk:
            raise PermissionDenied("That webhook belongs to another organisation.")
        text = (
            f"Test message from Vigil for {organization.name}, sent by {actor.display_name}: "
            f"this webhook (“{webhook.name}”) works."
        )
        delivery = Delivery.objects.create(
            organization=organization,
            channel=Delivery.Channel.CHAT,
            target=webhook.url,
            payload=chat_payload(incident=None, text=text),
            idempotency_key=f"test:{webhook.pk}:{uuid.uuid4().hex}",
        )
        _queue(delivery)
        return delivery


def delivery_list(*, organization: Organization, status: str | None = None):
    """The deliveries an admin should look at: failed ones, then pending ones."""
    wanted = [status] if status else [Delivery.Status.FAILED, Delivery.Status.PENDING]
    return (
        Delivery.objects.filter(organization=organization, status__in=wanted)
        .select_related("notification__incident", "notification__recipient")
        .order_by("status", "-created_at", "-pk")
    )


@transaction.atomic
def delivery_retry(*, organization: Organization, actor: User, delivery: Delivery) -> Delivery:
    """Make a failed (or waiting) delivery due now and queue it: one more attempt."""
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_ORGANIZATION)
        claimed = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(
                organization=organization,
                pk=delivery.pk,
                status__in=[Delivery.Status.FAILED, Delivery.Status.PENDING],
            )
            .first()
        )
        if claimed is None:
            raise ValidationError("This delivery is being sent right now, or was sent already.")
        claimed.status = Delivery.Status.PENDING
        claimed.next_attempt_at = timezone.now()
        claimed.save(update_fields=["status", "next_attempt_at"])
        _queue(claimed)
        return claimed
