"""Every write of external communications: settings, spokespersons, components, templates,
the draft → approved → published workflow, and e-mail subscribers with double opt-in.

Services take the organisation and the acting user explicitly, check capabilities through
`tenancy.roles`, run in one transaction with their timeline entry and queue side effects
(the subscriber e-mails) on commit. django-auditlog records every row they change."""

import logging
import re
from datetime import datetime, timedelta

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from compliance.masking import mask_text
from incidents import notify
from incidents.models import Delivery, Incident, TimelineEvent
from incidents.selectors import incident_list
from incidents.services import record, role_of
from incidents.statuspage.models import (
    Component,
    ComponentState,
    ExternalMessage,
    MessageComponent,
    MessageState,
    MessageTemplate,
    PublicStatus,
    Spokesperson,
    StatusPageSettings,
    Subscriber,
)
from incidents.statuspage.placeholders import fill, format_next_update, validate_placeholders
from taxonomy.models import Service
from tenancy.models import Membership, Organization, User
from tenancy.roles import Capability, can
from tenancy.scoping import org_scope

logger = logging.getLogger(__name__)

# The timeline kind of external-communication events (a constant until TimelineEvent.Kind
# names it; the timeline shows the raw value meanwhile).
TIMELINE_KIND = getattr(TimelineEvent.Kind, "EXTERNAL", "external")
CONFIRM_SALT = "statuspage.confirm"
UNSUBSCRIBE_SALT = "statuspage.unsubscribe"
CONFIRM_MAX_AGE = timedelta(days=3)
# The same address asking again within this window gets no second e-mail.
RESEND_AFTER = timedelta(minutes=10)
# A ceiling on confirmation e-mails per organisation and hour, against list bombing.
CONFIRMATIONS_PER_HOUR = 200
TITLE_MAX = 160
BODY_MAX = 4000


# — helpers ——————————————————————————————————————————————————————————————————————————


def _require(organization: Organization, actor: User | None, capability: Capability) -> str:
    role = role_of(organization, actor)
    if actor is None or not can(role, capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")
    return role


def _membership(organization: Organization, user: User) -> Membership | None:
    return (
        Membership.objects.with_scopes_disabled()  # the actor's own membership, this org only
        .filter(organization=organization, user=user)
        .first()
    )


def _same_org(organization: Organization, **objects) -> None:
    errors = {
        name: "Choose one of this organisation's own."
        for name, obj in objects.items()
        if obj is not None and obj.organization_id != organization.pk
    }
    if errors:
        raise ValidationError(errors)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_text(
    value: str, field: str, limit: int, *, required: bool = True, one_line: bool = False
) -> str:
    """Trimmed, within `limit`, without control characters (XML 1.0 — the Atom feed — cannot
    carry them, and text pasted from word processors brings them); titles on one line (they
    become e-mail subjects)."""
    value = _CONTROL.sub("", value or "")
    if one_line:
        value = " ".join(value.split())
    value = value.strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit} characters (it has {len(value)})."})
    return value


def settings_get(organization: Organization) -> StatusPageSettings:
    """The organisation's settings, or unsaved defaults (page off, four eyes)."""
    with org_scope(organization):
        found = StatusPageSettings.objects.filter(organization=organization).first()
    return found or StatusPageSettings(organization=organization)


def page_title(organization: Organization, page: StatusPageSettings | None = None) -> str:
    page = page or settings_get(organization)
    return page.title or f"{organization.name} status"


def is_spokesperson(organization: Organization, user: User | None) -> bool:
    if user is None or role_of(organization, user) is None:
        return False  # a designation outlives no membership
    with org_scope(organization):
        return Spokesperson.objects.filter(organization=organization, user=user).exists()


def may_see_incident(organization: Organization, user: User, incident: Incident) -> bool:
    membership = _membership(organization, user)
    if membership is None:
        return False
    with org_scope(organization):
        return (
            incident_list(organization=organization, user=user, membership=membership)
            .filter(pk=incident.pk)
            .exists()
        )


def _timeline(message: ExternalMessage, actor: User | None, text: str) -> None:
    if message.incident_id is None:
        return
    incident = Incident.objects.get(pk=message.incident_id)
    record(
        incident,
        kind=TIMELINE_KIND,
        actor=actor,
        message=text,
        external_message_id=message.pk,
        state=message.state,
    )


# — settings and spokespersons ————————————————————————————————————————————————————————


@transaction.atomic
def settings_save(
    *,
    organization: Organization,
    actor: User,
    is_public: bool,
    title: str = "",
    introduction: str = "",
    allow_self_approval: bool = False,
) -> StatusPageSettings:
    """Switch the public page on or off, name it, and choose the approval rule."""
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    title = _clean_text(title, "title", 120, required=False, one_line=True)
    introduction = _clean_text(introduction, "introduction", 300, required=False)
    with org_scope(organization):
        page, _ = StatusPageSettings.objects.select_for_update().get_or_create(
            organization=organization
        )
        page.is_public = bool(is_public)
        page.title = title
        page.introduction = introduction
        page.allow_self_approval = bool(allow_self_approval)
        page.updated_at = timezone.now()
        page.save()
    return page


@transaction.atomic
def spokesperson_add(*, organization: Organization, actor: User, user: User) -> Spokesperson:
    """Designate a member as a spokesperson."""
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    if role_of(organization, user) is None:
        raise ValidationError({"user": "Choose a member of this organisation."})
    with org_scope(organization):
        if Spokesperson.objects.filter(organization=organization, user=user).exists():
            raise ValidationError({"user": f"{user} is a spokesperson already."})
        return Spokesperson.objects.create(organization=organization, user=user, added_by=actor)


@transaction.atomic
def spokesperson_remove(
    *, organization: Organization, actor: User, spokesperson: Spokesperson
) -> None:
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    _same_org(organization, spokesperson=spokesperson)
    spokesperson.delete()


# — components and templates ——————————————————————————————————————————————————————————


@transaction.atomic
def component_save(
    *,
    organization: Organization,
    actor: User,
    component: Component | None = None,
    name: str,
    description: str = "",
    order: int = 0,
    service: Service | None = None,
    state: str = ComponentState.OPERATIONAL,
) -> Component:
    """Create or change a public component. A state set here shows at once, without a
    message: meant for maintenance and corrections, so it is kept to org admins."""
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    name = _clean_text(name, "name", 80)
    description = _clean_text(description, "description", 200, required=False)
    if state not in ComponentState.values:
        raise ValidationError({"state": "Choose one of the listed states."})
    if not isinstance(order, int) or not 0 <= order <= 32767:
        raise ValidationError({"order": "A whole number from 0 to 32767."})
    _same_org(organization, component=component, service=service)
    with org_scope(organization):
        clash = Component.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
        if component is not None:
            clash = clash.exclude(pk=component.pk)
        if clash.exists():
            raise ValidationError({"name": "There is a component with this name already."})
        now = timezone.now()
        if component is None:
            component = Component(organization=organization, state_changed_at=now)
        elif component.state != state:
            component.state_changed_at = now
        component.name = name
        component.description = description
        component.order = order
        component.service = service
        component.state = state
        component.save()
    return component


@transaction.atomic
def component_delete(*, organization: Organization, actor: User, component: Component) -> None:
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    _same_org(organization, component=component)
    with org_scope(organization):
        if MessageComponent.objects.filter(
            component=component, message__state=MessageState.PUBLISHED
        ).exists():
            raise ValidationError(
                "Published messages name this component, so it stays. Rename it instead."
            )
        component.delete()


@transaction.atomic
def template_save(
    *,
    organization: Organization,
    actor: User,
    template: MessageTemplate | None = None,
    name: str,
    title: str,
    body: str,
    status: str = PublicStatus.INVESTIGATING,
    is_active: bool = True,
) -> MessageTemplate:
    """Create or change pre-approved wording. Only the public placeholders are allowed."""
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    name = _clean_text(name, "name", 80)
    title = _clean_text(title, "title", TITLE_MAX, one_line=True)
    body = _clean_text(body, "body", BODY_MAX)
    if status not in PublicStatus.values:
        raise ValidationError({"status": "Choose one of the listed statuses."})
    errors = {}
    for field, text in (("title", title), ("body", body)):
        try:
            validate_placeholders(text)
        except ValidationError as error:
            errors[field] = error.messages
    if errors:
        raise ValidationError(errors)
    _same_org(organization, template=template)
    with org_scope(organization):
        clash = MessageTemplate.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
        if template is not None:
            clash = clash.exclude(pk=template.pk)
        if clash.exists():
            raise ValidationError({"name": "There is a template with this name already."})
        template = template or MessageTemplate(organization=organization)
        template.name, template.title, template.body = name, title, body
        template.status, template.is_active = status, bool(is_active)
        template.save()
    return template


@transaction.atomic
def template_delete(*, organization: Organization, actor: User, template: MessageTemplate) -> None:
    _require(organization, actor, Capability.MANAGE_ORGANIZATION)
    _same_org(organization, template=template)
    template.delete()


# — messages ——————————————————————————————————————————————————————————————————————————


def _check_affected(organization: Organization, affected: dict) -> list[tuple[Component, str]]:
    pairs = []
    for component, state in affected.items():
        _same_org(organization, components=component)
        if state not in ComponentState.values:
            raise ValidationError({"components": f"Choose a state for {component}."})
        pairs.append((component, state))
    return sorted(pairs, key=lambda pair: (pair[0].order, pair[0].name))


def _filled_text(
    organization: Organization, *, title, body, status, next_update_at, affected
) -> tuple[str, str]:
    values = {
        "components": [component.name for component, _ in affected],
        "status": PublicStatus(status).label,
        "next_update": (
            format_next_update(next_update_at, organization.tzinfo) if next_update_at else ""
        ),
    }
    errors = {}
    filled = {}
    for field, text in (("title", title), ("body", body)):
        try:
            validate_placeholders(text)
            filled[field] = fill(text, **values)
        except ValidationError as error:
            errors[field] = error.messages
    if errors:
        raise ValidationError(errors)
    if len(filled["title"]) > TITLE_MAX:
        raise ValidationError({"title": f"At most {TITLE_MAX} characters once filled in."})
    if len(filled["body"]) > BODY_MAX:
        raise ValidationError({"body": f"At most {BODY_MAX} characters once filled in."})
    return filled["title"], filled["body"]


def _validate_message(
    organization, actor, *, title, body, status, next_update_at, incident, template, affected
):
    title = _clean_text(title, "title", TITLE_MAX, one_line=True)
    body = _clean_text(body, "body", BODY_MAX)
    if status not in PublicStatus.values:
        raise ValidationError({"status": "Choose one of the listed statuses."})
    if next_update_at is not None and next_update_at < timezone.now() - timedelta(minutes=5):
        raise ValidationError({"next_update_at": "The next update cannot be in the past."})
    _same_org(organization, incident=incident, template=template)
    if incident is not None and not may_see_incident(organization, actor, incident):
        raise ValidationError({"incident": "No such incident."})
    pairs = _check_affected(organization, affected or {})
    title, body = _filled_text(
        organization,
        title=title,
        body=body,
        status=status,
        next_update_at=next_update_at,
        affected=pairs,
    )
    return title, body, pairs


def _set_affected(message: ExternalMessage, pairs) -> None:
    MessageComponent.objects.filter(message=message).delete()
    MessageComponent.objects.bulk_create(
        [
            MessageComponent(
                organization_id=message.organization_id,
                message=message,
                component=component,
                state=state,
            )
            for component, state in pairs
        ]
    )


@transaction.atomic
def message_create(
    *,
    organization: Organization,
    actor: User,
    title: str,
    body: str,
    status: str = PublicStatus.INVESTIGATING,
    next_update_at: datetime | None = None,
    incident: Incident | None = None,
    template: MessageTemplate | None = None,
    affected: dict | None = None,
) -> ExternalMessage:
    """Draft a message (free text or from a template; placeholders are filled from the
    message's own components, status and next update). Spokespersons hear about it."""
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    with org_scope(organization):
        title, body, pairs = _validate_message(
            organization,
            actor,
            title=title,
            body=body,
            status=status,
            next_update_at=next_update_at,
            incident=incident,
            template=template,
            affected=affected,
        )
        now = timezone.now()
        message = ExternalMessage.objects.create(
            organization=organization,
            title=title,
            body=body,
            status=status,
            next_update_at=next_update_at,
            incident=incident,
            template=template,
            drafted_by=actor,
            created_at=now,
            updated_at=now,
        )
        _set_affected(message, pairs)
        _timeline(message, actor, f"External message drafted: “{title}” (awaits approval)")
        spokespeople = [
            s.user
            for s in Spokesperson.objects.filter(organization=organization).select_related("user")
            if s.user_id != actor.pk
        ]
        if spokespeople:
            notify.notify_users(
                organization=organization,
                users=spokespeople,
                kind="statuspage_approval",
                title=f"External message awaits approval: {title}",
                body=body[:500],
                url=reverse(
                    "statuspage:message_detail",
                    kwargs={"org_slug": organization.slug, "pk": message.pk},
                ),
                key=f"statuspage:approval:{message.pk}",
                incident=incident,  # a restricted incident's text is masked for outsiders
            )
    return message


def _lock(organization: Organization, message: ExternalMessage) -> ExternalMessage:
    _same_org(organization, message=message)
    return ExternalMessage.objects.select_for_update().get(pk=message.pk)


@transaction.atomic
def message_update(
    *,
    organization: Organization,
    actor: User,
    message: ExternalMessage,
    title: str,
    body: str,
    status: str,
    next_update_at: datetime | None = None,
    incident: Incident | None = None,
    affected: dict | None = None,
) -> ExternalMessage:
    """Change a draft or an approved message. Changing an approved one sends it back to draft:
    what gets published is exactly what was approved."""
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    with org_scope(organization):
        message = _lock(organization, message)
        if message.state == MessageState.PUBLISHED:
            raise ValidationError(
                "A published message cannot be changed. Draft a follow-up message instead."
            )
        title, body, pairs = _validate_message(
            organization,
            actor,
            title=title,
            body=body,
            status=status,
            next_update_at=next_update_at,
            incident=incident,
            template=message.template,
            affected=affected,
        )
        was_approved = message.state == MessageState.APPROVED
        if was_approved:
            message.revise()
            message.approved_by = None
            message.approved_at = None
        previous_incident = message.incident_id
        message.title, message.body, message.status = title, body, status
        message.next_update_at = next_update_at
        message.incident = incident
        message.edited_by = actor
        message.updated_at = timezone.now()
        message.save()
        _set_affected(message, pairs)
        note = " — the approval was withdrawn; it needs approving again" if was_approved else ""
        _timeline(message, actor, f"External message edited: “{title}”{note}")
        if previous_incident and previous_incident != message.incident_id:
            old = ExternalMessage(
                organization=organization, incident_id=previous_incident, pk=message.pk
            )
            _timeline(old, actor, f"External message “{title}” moved to another incident")
    return message


def approval_refusal(organization: Organization, user: User, message: ExternalMessage) -> str:
    """Why `user` may not approve `message` now, or "" when they may."""
    if message.state != MessageState.DRAFT:
        return "Only drafts can be approved."
    if not is_spokesperson(organization, user):
        return "Only a spokesperson may approve external messages."
    if user.pk in message.authors and not settings_get(organization).allow_self_approval:
        return (
            "Four eyes: another spokesperson must approve a message you drafted or edited "
            "(the organisation's status page settings can allow self-approval)."
        )
    return ""


@transaction.atomic
def message_approve(
    *, organization: Organization, actor: User, message: ExternalMessage
) -> ExternalMessage:
    """A spokesperson approves a draft (never their own unless the organisation allows it)."""
    with org_scope(organization):
        message = _lock(organization, message)
        if message.incident_id and not may_see_incident(organization, actor, message.incident):
            raise PermissionDenied("You may not see this message's incident.")
        refusal = approval_refusal(organization, actor, message)
        if refusal:
            raise (
                ValidationError(refusal)
                if message.state != MessageState.DRAFT
                else PermissionDenied(refusal)
            )
        message.approve()
        message.approved_by = actor
        message.approved_at = timezone.now()
        message.updated_at = message.approved_at
        message.save()
        _timeline(message, actor, f"External message approved: “{message.title}”")
    return message


def publish_refusal(organization: Organization, user: User, message: ExternalMessage) -> str:
    if message.state == MessageState.PUBLISHED:
        return "This message is published already."
    if message.state != MessageState.APPROVED:
        return "A spokesperson must approve the message before it can be published."
    if not is_spokesperson(organization, user):
        return "Only a spokesperson may publish external messages."
    return ""


@transaction.atomic
def message_publish(
    *,
    organization: Organization,
    actor: User,
    message: ExternalMessage,
    now: datetime | None = None,
) -> ExternalMessage:
    """Publish an approved message: it appears on the status page and feed, the components it
    names take the states it gives them, and confirmed subscribers are e-mailed (a task,
    queued on commit)."""
    now = now or timezone.now()
    with org_scope(organization):
        message = _lock(organization, message)
        if message.incident_id and not may_see_incident(organization, actor, message.incident):
            raise PermissionDenied("You may not see this message's incident.")
        refusal = publish_refusal(organization, actor, message)
        if refusal:
            raise (
                PermissionDenied(refusal)
                if message.state == MessageState.APPROVED
                else ValidationError(refusal)
            )
        message.publish()
        message.published_by = actor
        message.published_at = now
        message.updated_at = now
        message.save()
        for item in MessageComponent.objects.filter(message=message).select_related("component"):
            component = Component.objects.select_for_update().get(pk=item.component_id)
            if component.state != item.state:
                component.state = item.state
                component.state_changed_at = now
                component.save(update_fields=["state", "state_changed_at"])
        _timeline(message, actor, f"External message published: “{message.title}”")
        org_id, message_id = organization.pk, message.pk
        transaction.on_commit(lambda: _queue_subscriber_mail(org_id, message_id), robust=True)
    return message


@transaction.atomic
def message_delete(*, organization: Organization, actor: User, message: ExternalMessage) -> None:
    """Discard a draft or an approved message; published ones stay on the record."""
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    with org_scope(organization):
        message = _lock(organization, message)
        if message.state == MessageState.PUBLISHED:
            raise ValidationError("A published message stays on the record.")
        if message.drafted_by_id != actor.pk and not is_spokesperson(organization, actor):
            raise PermissionDenied("Only its drafter or a spokesperson may discard a message.")
        _timeline(message, actor, f"External message discarded: “{message.title}”")
        message.delete()


# — subscribers ————————————————————————————————————————————————————————————————————————


def _token(subscriber: Subscriber, salt: str) -> str:
    return signing.dumps(
        {"o": subscriber.organization_id, "s": subscriber.pk, "n": subscriber.nonce}, salt=salt
    )


def confirm_url(subscriber: Subscriber, organization: Organization) -> str:
    path = reverse(
        "status_public:confirm",
        kwargs={"org_slug": organization.slug, "token": _token(subscriber, CONFIRM_SALT)},
    )
    return notify.absolute(path)


def unsubscribe_url(subscriber: Subscriber, organization: Organization) -> str:
    path = reverse(
        "status_public:unsubscribe",
        kwargs={"org_slug": organization.slug, "token": _token(subscriber, UNSUBSCRIBE_SALT)},
    )
    return notify.absolute(path)


def public_url(organization: Organization) -> str:
    return notify.absolute(reverse("status_public:page", kwargs={"org_slug": organization.slug}))


class TokenProblem(Exception):
    """The link is broken, expired or no longer valid; `reason` says which, for the page."""

    def __init__(self, reason: str, *, expired: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


def subscriber_from_token(
    organization: Organization, token: str, *, salt: str, max_age: timedelta | None = None
) -> Subscriber:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as error:
        raise TokenProblem(
            "This link has expired. Subscribe again to get a new one.", expired=True
        ) from error
    except signing.BadSignature as error:
        raise TokenProblem(
            "This link is not valid. Copy the whole link from the e-mail, or subscribe again."
        ) from error
    if not isinstance(data, dict) or data.get("o") != organization.pk:
        raise TokenProblem("This link is not valid for this status page.")
    with org_scope(organization):
        subscriber = Subscriber.objects.filter(pk=data.get("s"), nonce=data.get("n")).first()
    if subscriber is None:
        raise TokenProblem("This subscription no longer exists. You can subscribe again.")
    return subscriber


def _record_email(
    organization: Organization, *, key: str, to: str, subject: str, body: str, now: datetime
) -> Delivery | None:
    delivery, created = Delivery.objects.get_or_create(
        organization=organization,
        idempotency_key=key,
        defaults={
            "channel": Delivery.Channel.EMAIL,
            "target": to,
            "payload": {"subject": subject[:250], "body": body},
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return delivery if created else None


def _send_on_commit(delivery: Delivery) -> None:
    org_id, delivery_id = delivery.organization_id, delivery.pk

    def send():
        from incidents.tasks import deliver_task

        try:
            deliver_task.delay(org_id, delivery_id)
        except Exception:  # the broker is down: the delivery sweeper sends it later
            logger.warning("could not queue status page e-mail %s", delivery_id)

    transaction.on_commit(send, robust=True)


def _footer(subscriber: Subscriber, organization: Organization) -> list[str]:
    return [
        "",
        "—",
        f"Status page: {public_url(organization)}",
        f"Unsubscribe (one click): {unsubscribe_url(subscriber, organization)}",
    ]


def subscriber_request(
    *, organization: Organization, email: str, now: datetime | None = None
) -> str:
    """Someone asked for updates at `email`. Records an unconfirmed subscriber and e-mails a
    confirmation link — unless the address is confirmed already, or was sent a link within
    RESEND_AFTER. Returns what happened ("sent", "recent", "confirmed"); the public page says
    the same thing in every case, so the form does not reveal who is subscribed."""
    now = now or timezone.now()
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": "Enter a valid e-mail address."}) from error
    if len(email) > 254:
        raise ValidationError({"email": "At most 254 characters."})
    page = settings_get(organization)
    if not page.is_public:
        raise PermissionDenied("This status page is not public.")
    with transaction.atomic(), org_scope(organization):
        subscriber = (
            Subscriber.objects.select_for_update()
            .annotate(lower=Lower("email"))
            .filter(lower=email)
            .first()
        )
        if subscriber is not None and subscriber.is_confirmed:
            return "confirmed"
        if (
            subscriber is not None
            and subscriber.confirmation_sent_at
            and now - subscriber.confirmation_sent_at < RESEND_AFTER
        ):
            return "recent"
        recent = Subscriber.objects.filter(confirmation_sent_at__gte=now - timedelta(hours=1))
        if recent.count() >= CONFIRMATIONS_PER_HOUR:
            # Over the hourly quota: answer as for any request (an error here would tell who is
            # subscribed already) and send nothing; the person can ask again later.
            logger.warning("status page %s: confirmation quota reached", organization.slug)
            return "recent"
        if subscriber is None:
            try:
                with transaction.atomic():
                    subscriber = Subscriber.objects.create(
                        organization=organization, email=email, created_at=now
                    )
            except IntegrityError:  # the same address, a moment ago, in another request
                return "recent"
        subscriber.confirmation_sent_at = now
        subscriber.save(update_fields=["confirmation_sent_at"])
        title = page_title(organization, page)
        body = [
            f"Someone — hopefully you — asked to receive status updates from {title}.",
            "",
            "Confirm the subscription here (the link is valid for 3 days):",
            confirm_url(subscriber, organization),
            "",
            "If this was not you, ignore this e-mail: nothing will be sent unless you confirm.",
            *_footer(subscriber, organization),
        ]
        delivery = _record_email(
            organization,
            key=f"statuspage:confirm:{subscriber.pk}:{int(now.timestamp())}",
            to=subscriber.email,
            subject=f"Confirm your subscription to {title}",
            body="\n".join(body),
            now=now,
        )
        if delivery is not None:
            _send_on_commit(delivery)
    return "sent"


@transaction.atomic
def subscriber_confirm(
    *, organization: Organization, token: str, now: datetime | None = None
) -> tuple[Subscriber, bool]:
    """Confirm from the e-mailed link. Returns the subscriber and whether this call confirmed
    it (False: it was confirmed already — the link works once)."""
    subscriber = subscriber_from_token(
        organization, token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE
    )
    with org_scope(organization):
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.is_confirmed:
            return subscriber, False
        subscriber.confirmed_at = now or timezone.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber, True


@transaction.atomic
def subscriber_unsubscribe(*, organization: Organization, token: str) -> None:
    """Forget the address (the row goes; so do its links)."""
    subscriber = subscriber_from_token(organization, token, salt=UNSUBSCRIBE_SALT)
    with org_scope(organization):
        Subscriber.objects.filter(pk=subscriber.pk).delete()


def subscriber_counts(organization: Organization) -> dict:
    with org_scope(organization):
        total = Subscriber.objects.filter(organization=organization).count()
        confirmed = Subscriber.objects.filter(
            organization=organization, confirmed_at__isnull=False
        ).count()
    return {"confirmed": confirmed, "pending": total - confirmed}


def message_email(
    organization: Organization, message: ExternalMessage, subscriber: Subscriber
) -> dict:
    """The e-mail a subscriber gets for a published message: public fields only, personal
    data masked (a subscriber is the public)."""
    title = page_title(organization)
    lines = [mask_text(message.title), f"Status: {message.get_status_display()}", ""]
    affected = list(message.affected.select_related("component"))
    if affected:
        lines += [f"{item.component.name}: {item.get_state_display()}" for item in affected]
        lines.append("")
    lines.append(mask_text(message.body))
    if message.next_update_at:
        when = format_next_update(message.next_update_at, organization.tzinfo)
        lines += ["", f"Next update: {when}"]
    lines += _footer(subscriber, organization)
    return {
        "subject": f"[{title}] {message.get_status_display()}: {mask_text(message.title)}",
        "body": "\n".join(lines),
    }


def message_notify_subscribers(
    *, organization: Organization, message_id: int, now: datetime | None = None
) -> int:
    """E-mail a published message to every confirmed subscriber: one durable Delivery per
    subscriber (keyed by message and subscriber, so a repeated task records nothing twice),
    each sent now and retried by the delivery sweeper if it fails. Returns how many new
    deliveries were recorded."""
    now = now or timezone.now()
    created = []
    with org_scope(organization):
        message = ExternalMessage.objects.filter(
            pk=message_id, state=MessageState.PUBLISHED
        ).first()
        if message is None:
            return 0
        with transaction.atomic():
            for subscriber in Subscriber.objects.filter(
                organization=organization, confirmed_at__isnull=False
            ).order_by("pk"):
                email = message_email(organization, message, subscriber)
                delivery = _record_email(
                    organization,
                    key=f"statuspage:message:{message.pk}:{subscriber.pk}",
                    to=subscriber.email,
                    subject=email["subject"],
                    body=email["body"],
                    now=now,
                )
                if delivery is not None:
                    created.append(delivery)
    for delivery in created:
        notify.deliver(delivery=delivery, now=now)
    return len(created)


def _queue_subscriber_mail(org_id: int, message_id: int) -> None:
    from incidents.statuspage.tasks import notify_subscribers_task

    try:
        notify_subscribers_task.delay(org_id, message_id)
    except Exception:  # the broker is down: record and send here rather than lose them
        logger.warning("could not queue subscriber e-mails for message %s", message_id)
        message_notify_subscribers(
            organization=Organization.objects.get(pk=org_id), message_id=message_id
        )
