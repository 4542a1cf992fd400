"""Who sees an incident's masked data unmasked, decided in one place for every surface.

Masked is the default for everyone, privileged or not: the public, webhooks, viewers,
responders and managers always get `compliance.masking` output. A member whose role may view
sensitive data (`view_sensitive`: compliance staff and admins) reveals one incident at a time
with `incident_unmask` — an audited `Unmask` row (who, which incident, when, why) that lasts
`WINDOW`. While it lasts, every surface shows that incident unmasked to that member: its pages,
the list and search rows, the CSV export, the post-mortem PDF and Markdown, the war room, and
e-mails and inbox notifications addressed to them. Revoking the role ends it at once (the role
is checked on every read, not only when revealing).

Pages decide once per request (`request_reveal`, `request_revealed_ids`: one query for a whole
list), never per row."""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from compliance.masking import may_see_sensitive
from compliance.models import Unmask
from incidents.models import Incident
from tenancy.models import Membership, User

WINDOW = timedelta(minutes=15)
REASON_CHARS = 300


def _active(*, now: datetime | None = None):
    return Unmask.objects.filter(expires_at__gt=now or timezone.now())


def revealed_ids(*, user: User, role: str | None, incident_ids=None, now=None) -> set[int]:
    """The ids among `incident_ids` (all incidents when None: an export) that `user` (with
    `role`) has revealed and still may see unmasked."""
    if user is None or not may_see_sensitive(role):
        return set()
    active = _active(now=now).filter(user=user)
    if incident_ids is not None:
        ids = [pk for pk in incident_ids if pk is not None]
        if not ids:
            return set()
        active = active.filter(incident_id__in=ids)
    return set(active.values_list("incident_id", flat=True).distinct())


def reveal_for(*, user: User, role: str | None, incident: Incident | None, now=None) -> bool:
    """Whether `user` sees `incident` unmasked right now."""
    if incident is None:
        return False
    return incident.pk in revealed_ids(user=user, role=role, incident_ids=[incident.pk], now=now)


def revealed_recipients(*, incident: Incident | None, roles: dict[int, str], now=None) -> set[int]:
    """Of the people `roles` ({user id: role}), those who get `incident` unmasked in messages
    addressed to them (one query for all recipients)."""
    privileged = [pk for pk, role in roles.items() if may_see_sensitive(role)]
    if incident is None or not privileged:
        return set()
    return set(
        _active(now=now)
        .filter(incident_id=incident.pk, user_id__in=privileged)
        .values_list("user_id", flat=True)
    )


def _request_role(request) -> str | None:
    membership = getattr(request, "membership", None)
    return membership.role if membership is not None else None


def request_revealed_ids(request, incidents) -> set[int]:
    """For a page of incidents (or an export: `incidents` None means all): the ids shown
    unmasked to this request's reader. One query."""
    return revealed_ids(
        user=request.user,
        role=_request_role(request),
        incident_ids=None if incidents is None else [incident.pk for incident in incidents],
    )


def request_reveal(request, incident: Incident | None) -> bool:
    """For a page about one incident: whether this request's reader sees it unmasked. Cached
    on the request, so fragments of one page ask once."""
    if incident is None or not getattr(request, "user", None) or not request.user.is_authenticated:
        return False
    cache = request.__dict__.setdefault("_vigil_reveal", {})
    if incident.pk not in cache:
        cache[incident.pk] = reveal_for(
            user=request.user, role=_request_role(request), incident=incident
        )
    return cache[incident.pk]


def active_unmask(*, user: User, incident: Incident, now=None) -> Unmask | None:
    """The reveal in force for `user` on `incident`, if any (for the page's banner)."""
    return _active(now=now).filter(user=user, incident=incident).order_by("-expires_at").first()


@transaction.atomic
def incident_unmask(
    *, incident: Incident, actor: User, reason: str = "", now: datetime | None = None
) -> Unmask:
    """Reveal `incident`'s masked data to `actor` for `WINDOW`, recorded (and audited) with
    `reason`. Only roles with view_sensitive; another organisation's incident is refused."""
    role = (
        Membership.objects.filter(organization_id=incident.organization_id, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if not may_see_sensitive(role):
        raise PermissionDenied("Your role may not reveal masked data.")
    reason = (reason or "").strip()
    if len(reason) > REASON_CHARS:
        raise ValidationError({"reason": f"Keep the reason under {REASON_CHARS} characters."})
    now = now or timezone.now()
    return Unmask.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        user=actor,
        reason=reason,
        created_at=now,
        expires_at=now + WINDOW,
    )


@transaction.atomic
def incident_remask(*, incident: Incident, actor: User, now: datetime | None = None) -> int:
    """End `actor`'s reveals of `incident` now (each end is audited). Returns how many."""
    now = now or timezone.now()
    ended = 0
    for unmask in _active(now=now).select_for_update().filter(user=actor, incident=incident):
        unmask.expires_at = max(now, unmask.created_at)
        unmask.save(update_fields=["expires_at"])
        ended += 1
    return ended
