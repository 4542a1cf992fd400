"""Scheduling the review: the post-mortem is created when an incident that needs one is
resolved, with an owner, a review meeting due `review_due_hours` later, the incident's timeline
imported and invitations sent; then a reminder before the due time and an escalation to the
organisation's managers when it is overdue — each exactly once.

The deadlines are the rows themselves (`review_due_at`, `reminded_at`, `escalated_at`): the
sweeper claims due rows with SELECT … FOR UPDATE SKIP LOCKED, notifies and marks them in the same
transaction, so a restart or a second sweeper never loses or doubles a firing."""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Func, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from incidents import notify
from incidents.models import Incident, IncidentRole, TimelineEvent
from incidents.services import _require, record
from postmortems.models import PostMortem, PostMortemPolicy
from postmortems.policy import TIMELINE_KIND, policy_for
from tenancy import sweeps
from tenancy.models import Membership, User
from tenancy.roles import Capability, Role
from tenancy.scoping import org_scope

TIMELINE_IMPORT_LIMIT = 500


def postmortem_path(postmortem: PostMortem) -> str:
    return reverse(
        "postmortems:postmortem_detail",
        kwargs={"org_slug": postmortem.organization.slug, "key": postmortem.incident.key},
    )


def _local(incident: Incident, when: datetime) -> str:
    return timezone.localtime(when, incident.organization.tzinfo).strftime("%Y-%m-%d %H:%M %Z")


def imported_timeline(incident: Incident) -> list[dict]:
    """The incident's timeline, oldest first, as post-mortem rows."""
    with org_scope(incident.organization_id):
        events = list(
            TimelineEvent.objects.filter(incident_id=incident.pk)
            .exclude(kind=TIMELINE_KIND)
            .order_by("created_at", "pk")[:TIMELINE_IMPORT_LIMIT]
        )
    return [
        {"at": event.created_at.isoformat(), "text": event.message[:1000], "source": "incident"}
        for event in events
    ]


def invitees(postmortem: PostMortem) -> list[User]:
    """The owner, the commander and everyone who held a role on the incident."""
    incident = postmortem.incident
    people = [postmortem.owner, incident.commander]
    with org_scope(incident.organization_id):
        people += [
            role.user
            for role in IncidentRole.objects.filter(incident_id=incident.pk).select_related("user")
        ]
    unique = {}
    for person in people:
        if person is not None:
            unique.setdefault(person.pk, person)
    return list(unique.values())


def schedule(incident: Incident, *, now: datetime | None = None) -> PostMortem:
    """Create the incident's post-mortem if it has none (idempotent): owner, review due time,
    title, imported timeline, invitations. Runs in the caller's transaction."""
    now = now or timezone.now()
    with org_scope(incident.organization_id), transaction.atomic():
        existing = PostMortem.objects.filter(incident_id=incident.pk).first()
        if existing is not None:
            return existing
        policy = policy_for(incident.organization_id)
        resolved = incident.resolved_at or now
        owner = incident.commander or incident.reporter
        try:
            with transaction.atomic():
                postmortem = PostMortem.objects.create(
                    organization_id=incident.organization_id,
                    incident=incident,
                    title=incident.title[:200],
                    owner=owner,
                    review_due_at=resolved + timedelta(hours=policy.review_due_hours),
                    timeline=imported_timeline(incident),
                    created_at=now,
                )
        except IntegrityError:  # created meanwhile by another transaction
            return PostMortem.objects.get(incident_id=incident.pk)
        due = _local(incident, postmortem.review_due_at)
        record(
            incident,
            kind=TIMELINE_KIND,
            actor=None,
            message=f"Post-mortem started; owner {owner or 'nobody yet'}, review due {due}",
            postmortem_id=postmortem.pk,
        )
        notify.notify_users(
            organization=incident.organization,
            users=invitees(postmortem),
            kind="postmortem_invite",
            title=f"{incident.key} · post-mortem review due {due}",
            body=f"{incident.title} was resolved and needs a blameless post-mortem. "
            f"Owner: {owner or 'nobody yet'}. Hold the review meeting by {due}.",
            incident=incident,
            url=postmortem_path(postmortem),
            key=f"postmortem:{postmortem.pk}:invite",
            now=now,
        )
        return postmortem


@transaction.atomic
def review_held(*, postmortem: PostMortem, actor: User, now: datetime | None = None):
    """Mark the review meeting as held: no more reminders or escalations."""
    _require(postmortem.incident.organization, actor, Capability.UPDATE_INCIDENTS)
    now = now or timezone.now()
    with org_scope(postmortem.organization_id):
        postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
        if postmortem.review_held_at is not None:
            raise ValidationError("The review is already marked as held.")
        if now < postmortem.created_at:
            raise PermissionDenied("The review cannot be held before the post-mortem exists.")
        postmortem.review_held_at = now
        postmortem.save(update_fields=["review_held_at", "updated_at"])
        record(
            postmortem.incident,
            kind=TIMELINE_KIND,
            actor=actor,
            message="Post-mortem review meeting held",
            postmortem_id=postmortem.pk,
        )
    return postmortem


# — the sweeper ——————————————————————————————————————————————————————————————————————


def _hours(field: str, default: int):
    """The organisation's policy value for `field` (the default when it has no policy row)."""
    return Coalesce(
        Subquery(
            PostMortemPolicy.objects.filter(organization_id=OuterRef("organization_id")).values(
                field
            )[:1]
        ),
        Value(default),
    )


def _interval(hours):
    return Func(
        hours, function="make_interval", template="make_interval(hours => (%(expressions)s)::int)"
    )


def _pending():
    return PostMortem.objects.filter(
        review_held_at__isnull=True,
        review_due_at__isnull=False,
        status__in=[PostMortem.Status.DRAFT, PostMortem.Status.IN_REVIEW],
    )


def _due_for_reminder(at):
    defaults = PostMortemPolicy()
    return (
        _pending()
        .filter(reminded_at__isnull=True, escalated_at__isnull=True)
        .annotate(
            remind_at=ExpressionWrapper(
                F("review_due_at")
                - _interval(_hours("remind_before_hours", defaults.remind_before_hours)),
                output_field=DateTimeField(),
            )
        )
        .filter(remind_at__lte=at, review_due_at__gt=at)
    )


def _due_for_escalation(at):
    defaults = PostMortemPolicy()
    return (
        _pending()
        .filter(escalated_at__isnull=True)
        .annotate(
            escalate_at=ExpressionWrapper(
                F("review_due_at")
                + _interval(_hours("escalate_after_hours", defaults.escalate_after_hours)),
                output_field=DateTimeField(),
            )
        )
        .filter(escalate_at__lte=at)
    )


def _remind(postmortem: PostMortem, now) -> None:
    incident = postmortem.incident
    postmortem.reminded_at = now
    postmortem.save(update_fields=["reminded_at"])
    due = _local(incident, postmortem.review_due_at)
    notify.notify_users(
        organization=incident.organization,
        users=invitees(postmortem),
        kind="postmortem_reminder",
        title=f"{incident.key} · post-mortem review due {due}",
        body=f"The review of {incident.title} is due {due}. Hold it, then mark it held on the "
        "post-mortem page.",
        incident=incident,
        url=postmortem_path(postmortem),
        key=f"postmortem:{postmortem.pk}:reminder",
        now=now,
    )


def _escalate(postmortem: PostMortem, now) -> None:
    incident = postmortem.incident
    postmortem.escalated_at = now
    postmortem.reminded_at = postmortem.reminded_at or now  # never "due soon" after "overdue"
    postmortem.save(update_fields=["escalated_at", "reminded_at"])
    due = _local(incident, postmortem.review_due_at)
    managers = [
        m.user
        for m in Membership.objects.filter(
            organization_id=incident.organization_id, role__in=[Role.MANAGER, Role.ADMIN]
        ).select_related("user")
    ]
    record(
        incident,
        kind=TIMELINE_KIND,
        actor=None,
        message=f"Post-mortem review overdue (was due {due}); escalated to the managers",
        postmortem_id=postmortem.pk,
    )
    notify.notify_users(
        organization=incident.organization,
        users=managers,
        kind="postmortem_overdue",
        title=f"{incident.key} · post-mortem review overdue",
        body=f"The post-mortem review of {incident.title} was due {due} and has not been held. "
        f"Owner: {postmortem.owner or 'nobody'}.",
        incident=incident,
        url=postmortem_path(postmortem),
        key=f"postmortem:{postmortem.pk}:escalation",
        now=now,
    )


def _pass(due, act, moment, limit: int) -> int:
    return sweeps.run_pass(
        due, act, moment, limit, related=("incident__organization", "incident__severity", "owner")
    )


def sweep(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Escalate overdue reviews, then remind of those due soon; across organisations."""
    fixed = now is not None

    def moment():
        return now if fixed else timezone.now()

    return {
        "escalated": _pass(_due_for_escalation, _escalate, moment, limit),
        "reminded": _pass(_due_for_reminder, _remind, moment, limit),
    }
