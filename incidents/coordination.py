"""Coordinating a running incident: roles and the commander's authority, status updates with
a required cadence and templates, shift handoffs, decisions and open questions.

Every write runs in one transaction with its timeline entry; notifications are recorded in
the same transaction (incidents.notify) and whatever every channel must carry is sent on
commit as `incidents.signals.incident_broadcast`. Deadlines (the next status update, an
unacknowledged handoff) are rows that `sweep()` claims with SKIP LOCKED from the SLA
sweeper, so each reminder fires exactly once."""

import logging
import string
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.masking import mask_text
from incidents import notify, services, signals
from incidents.lifecycle import OPEN_STATES, Status
from incidents.models import (
    STATUS_CADENCE_DEFAULTS,
    Handoff,
    Incident,
    IncidentRole,
    OpenQuestion,
    StatusCadence,
    StatusDeadline,
    StatusUpdate,
    StatusUpdateTemplate,
    TimelineEvent,
)
from incidents.services import (
    _check_member,
    _grant_view,
    _lock,
    _on_commit_send,
    _require,
    command_refusal,
    is_manager,
    record,
    require_command,
)
from taxonomy.models import SeverityLevel
from tenancy import sweeps
from tenancy.models import Membership, Organization, User
from tenancy.roles import Capability, Role, can
from tenancy.scoping import org_scope

COMMANDER = "commander"
ROLE_LABELS = {COMMANDER: "Incident commander", **dict(IncidentRole.Kind.choices)}
TEXT_LIMIT = 5000
# A reminder goes out this long before the next update is due (or 20 % of the interval,
# whichever is shorter), and once more when it is overdue.
REMIND_BEFORE = timedelta(minutes=5)
REMIND_SHARE = 0.2
HANDOFF_REMIND_AFTER = timedelta(minutes=10)
HANDOFF_ESCALATE_AFTER = timedelta(minutes=30)
MAX_ACTIONS = 20
MAX_QUESTIONS = 20
CHUNK = 20

logger = logging.getLogger(__name__)


def _local(incident: Incident, when: datetime) -> str:
    return f"{timezone.localtime(when, incident.organization.tzinfo):%H:%M %Z}"


def _path(incident: Incident) -> str:
    return f"/o/{incident.organization.slug}/incidents/{incident.key}/"


def _broadcast(incident: Incident, *, text: str, kind: str, actor: User | None) -> None:
    _on_commit_send(
        signals.incident_broadcast,
        incident,
        text=text,
        kind=kind,
        actor_id=actor.pk if actor else None,
    )


# — roles ————————————————————————————————————————————————————————————————————————————


def active_roles(incident: Incident) -> list[IncidentRole]:
    return list(
        IncidentRole.objects.filter(incident=incident, ended_at__isnull=True).select_related("user")
    )


def _holder(incident: Incident, role: str) -> User | None:
    if role == COMMANDER:
        return incident.commander
    row = (
        IncidentRole.objects.filter(incident=incident, role=role, ended_at__isnull=True)
        .select_related("user")
        .first()
    )
    return row.user if row else None


def _check_role(role: str) -> None:
    if role not in ROLE_LABELS:
        raise ValidationError(
            {"role": "Choose commander, deputy, scribe, comms lead or responder."}
        )


def _give(incident: Incident, *, role: str, user: User, actor: User | None, now, how: str):
    """Put `user` in `role` (ending the previous holder's) and say so on the timeline. The
    incident must be locked by the caller."""
    previous = _holder(incident, role) if role != IncidentRole.Kind.RESPONDER else None
    label = ROLE_LABELS[role]
    if role == COMMANDER:
        incident.commander = user
        incident.version += 1
        incident.updated_at = now
        incident.save()
    elif role == IncidentRole.Kind.RESPONDER:
        IncidentRole.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            role=role,
            user=user,
            assigned_by=actor,
            assigned_at=now,
        )
    else:
        IncidentRole.objects.filter(incident=incident, role=role, ended_at__isnull=True).update(
            ended_at=now
        )
        IncidentRole.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            role=role,
            user=user,
            assigned_by=actor,
            assigned_at=now,
        )
    incident.watchers.add(user)
    if incident.is_restricted:
        _grant_view(incident, user, actor, label.lower())
    if how == "took":
        message = f"{user} took over as {label.lower()}"
    else:
        message = f"{actor or 'Vigil'} made {user} {label.lower()}"
    if previous is not None:
        message += f" (was {previous})"
    record(
        incident,
        kind=TimelineEvent.Kind.ROLE,
        actor=actor,
        message=message,
        role=role,
        user_id=user.pk,
        previous_id=previous.pk if previous else None,
    )
    people = [user] if actor is None or actor.pk != user.pk else []
    if previous is not None and previous.pk != user.pk:
        people.append(previous)
    for person in people:
        is_new = person.pk == user.pk
        notify.notify_users(
            organization=incident.organization,
            users=[person],
            kind="role",
            title=(
                f"{incident.key} · you are now {label.lower()}"
                if is_new
                else f"{incident.key} · {user} is now {label.lower()}"
            ),
            body=f"{message}. {incident.title}",
            incident=incident,
            key=f"role:{incident.pk}:{role}:{user.pk}:{person.pk}:{now.timestamp()}",
            now=now,
        )
    return previous


@transaction.atomic
def role_assign(
    *, incident: Incident, actor: User | None, role: str, user: User, now=None
) -> Incident:
    """The commander (or a manager) puts someone in a role: commander, deputy, scribe,
    communications lead or responder. One click; on the timeline; the person is notified."""
    now = now or timezone.now()
    _check_role(role)
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    incident = _lock(incident, None)
    require_command(incident, actor, "assign roles")
    if user is None:
        raise ValidationError({"user": "Choose a person."})
    _check_member(incident.organization, "user", user)
    if not user.is_active:
        raise ValidationError({"user": "That person's account is deactivated."})
    if _holds(incident, role, user):
        raise ValidationError({"user": f"{user} is {ROLE_LABELS[role].lower()} already."})
    _check_can_act(incident, "user", user, actor)
    _give(incident, role=role, user=user, actor=actor, now=now, how="assigned")
    return incident


def _check_can_act(incident: Incident, field: str, user: User, actor: User | None) -> None:
    """Someone put in a role or handed the incident must be able to work it: a role that may
    update incidents, and — for a restricted incident they cannot see yet — an actor who may
    grant access (org admin or commander), because taking part grants it."""
    role = services.role_of(incident.organization, user)
    if role is None or not can(role, Capability.UPDATE_INCIDENTS):
        raise ValidationError({field: f"{user} cannot update incidents (their role is read-only)."})
    if (
        incident.is_restricted
        and role != Role.ADMIN
        and not user.has_perm(services.VIEW_PERM, incident)
    ):
        if actor is None:
            raise PermissionDenied("Only org admins and the commander grant access.")
        services._require_access_manager(incident, actor)


def _holds(incident: Incident, role: str, user: User) -> bool:
    if role == COMMANDER:
        return incident.commander_id == user.pk
    return IncidentRole.objects.filter(
        incident=incident, role=role, user=user, ended_at__isnull=True
    ).exists()


@transaction.atomic
def role_take(*, incident: Incident, actor: User, role: str, now=None) -> Incident:
    """Take a role yourself. A free role (or joining as a responder) is anyone's who may
    update incidents; taking one someone else holds needs the commander's authority (the
    commander or a manager) — otherwise ask for a handoff."""
    now = now or timezone.now()
    _check_role(role)
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    incident = _lock(incident, None)
    if _holds(incident, role, actor):
        raise ValidationError(f"You are {ROLE_LABELS[role].lower()} already.")
    holder = _holder(incident, role) if role != IncidentRole.Kind.RESPONDER else None
    if holder is not None:
        if role == COMMANDER and not is_manager(incident.organization, actor):
            raise PermissionDenied(
                f"{holder} commands this incident. Ask them for a handoff, or a manager to "
                "reassign command."
            )
        require_command(incident, actor, f"take over as {ROLE_LABELS[role].lower()}")
    _give(incident, role=role, user=actor, actor=actor, now=now, how="took")
    return incident


@transaction.atomic
def role_release(*, incident: Incident, actor: User, assignment: IncidentRole, now=None) -> None:
    """End a deputy, scribe, comms-lead or responder assignment: its holder steps down, or
    the commander (or a manager) relieves them."""
    now = now or timezone.now()
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    incident = _lock(incident, None)
    row = (
        IncidentRole.objects.select_for_update()
        .filter(pk=assignment.pk, incident=incident, ended_at__isnull=True)
        .first()
    )
    if row is None:
        raise ValidationError("That role assignment has ended already.")
    if row.user_id != actor.pk:
        require_command(incident, actor, "relieve someone of a role")
    row.ended_at = now
    row.save(update_fields=["ended_at"])
    who = "stepped down as" if row.user_id == actor.pk else "relieved of the role"
    record(
        incident,
        kind=TimelineEvent.Kind.ROLE,
        actor=actor,
        message=f"{row.user} {who} {row.get_role_display().lower()}",
        role=row.role,
        user_id=row.user_id,
        ended=True,
    )


# — status updates: cadence, templates ———————————————————————————————————————————————

PLACEHOLDERS = {
    "key": "the incident key (ACME-42)",
    "title": "the incident title",
    "severity": "the severity (SEV-1)",
    "status": "the lifecycle status (Investigating)",
    "commander": "the commander's name",
    "services": "the affected services",
    "next_update_at": "when the next update is due (14:30 CET)",
    "organization": "the organisation's name",
}


def placeholders_in(text: str) -> list[str]:
    """The placeholder names used in `text`. Raises ValidationError for anything that is not a
    plain known {name}: unknown names, attributes, indexes, format specs, unbalanced braces."""
    try:
        parsed = list(string.Formatter().parse(text or ""))
    except ValueError as error:
        raise ValidationError(
            f"Unbalanced braces ({error}). Write {{{{ or }}}} for a literal brace."
        ) from error
    names, unknown = [], []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            unknown.append("{" + name + (f"!{conversion}" if conversion else "") + "}")
        else:
            names.append(name)
    if unknown:
        raise ValidationError(
            f"Unknown placeholder{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}. "
            f"Use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}."
        )
    return names


def placeholder_values(incident: Incident, *, next_update_at: datetime | None) -> dict:
    services = ", ".join(sorted(s.name for s in incident.affected_services.all()))
    return {
        "key": incident.key,
        # Personal data masked unless the page marked the incident revealed to its reader.
        "title": mask_text(incident.title, reveal=getattr(incident, "reveal", False) is True),
        "severity": incident.severity.name,
        "status": incident.get_status_display(),
        "commander": incident.commander.display_name if incident.commander else "not assigned",
        "services": services or "no service named yet",
        "next_update_at": _local(incident, next_update_at) if next_update_at else "not planned",
        "organization": incident.organization.name,
    }


def fill(text: str, values: dict) -> str:
    placeholders_in(text)
    return string.Formatter().vformat(text or "", (), values)


TEMPLATE_FIELDS = ("current_status", "impact", "workaround", "body")


def template_render(
    template: StatusUpdateTemplate, incident: Incident, *, next_update_at=None
) -> dict:
    """A template's fields filled from the incident, ready to edit before posting."""
    if template.organization_id != incident.organization_id:
        raise ValidationError({"template": "Choose one of this organisation's templates."})
    values = placeholder_values(incident, next_update_at=next_update_at)
    return {field: fill(getattr(template, field), values) for field in TEMPLATE_FIELDS}


def _require_manager(organization: Organization, actor: User, what: str) -> None:
    if not is_manager(organization, actor):
        raise PermissionDenied(f"Only managers and admins may {what}.")


@transaction.atomic
def template_save(
    *,
    organization: Organization,
    actor: User,
    template: StatusUpdateTemplate | None = None,
    name: str,
    current_status: str,
    impact: str = "",
    workaround: str = "",
    body: str = "",
    is_active: bool = True,
) -> StatusUpdateTemplate:
    """Add or change a status-update template (managers). Unknown placeholders are refused
    with the list of known ones."""
    _require_manager(organization, actor, "edit status-update templates")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the template a name."})
    if len(name) > 80:
        raise ValidationError({"name": "At most 80 characters."})
    fields = {
        "current_status": current_status or "",
        "impact": impact or "",
        "workaround": workaround or "",
        "body": body or "",
    }
    if not fields["current_status"].strip():
        raise ValidationError({"current_status": "Say what the current status is."})
    errors = {}
    for field, text in fields.items():
        if len(text) > TEXT_LIMIT:
            errors[field] = f"At most {TEXT_LIMIT:,} characters."
            continue
        try:
            placeholders_in(text)
        except ValidationError as error:
            errors[field] = error.messages
    if errors:
        raise ValidationError(errors)
    with org_scope(organization):
        clash = StatusUpdateTemplate.objects.filter(
            organization=organization, name__iexact=name
        ).exclude(pk=template.pk if template else None)
        if clash.exists():
            raise ValidationError({"name": "Another template has this name."})
        if template is None:
            template = StatusUpdateTemplate(organization=organization)
        elif template.organization_id != organization.pk:
            raise PermissionDenied("That template belongs to another organisation.")
        template.name = name
        template.is_active = is_active
        for field, text in fields.items():
            setattr(template, field, text.strip())
        template.save()
    return template


DEFAULT_TEMPLATES = [
    {
        "name": "Investigating",
        "current_status": "We are investigating {title} ({severity}).",
        "impact": "Customers using {services} may see errors or delays.",
        "workaround": "None known yet.",
        "body": "{commander} leads the response. Next update by {next_update_at}.",
    },
    {
        "name": "Mitigated, monitoring",
        "current_status": "A fix is in place for {title}; we are monitoring.",
        "impact": "{services} should work normally again.",
        "workaround": "Retry requests that failed during the incident.",
        "body": "Next update by {next_update_at}.",
    },
]


def seed_status_templates(organization: Organization) -> None:
    """Give a new organisation two templates to start from. Idempotent: an organisation with
    templates is left alone."""
    manager = StatusUpdateTemplate.objects.with_scopes_disabled()
    if manager.filter(organization=organization).exists():
        return
    for spec in DEFAULT_TEMPLATES:
        StatusUpdateTemplate.objects.create(organization=organization, **spec)


def cadence_minutes(incident: Incident) -> int | None:
    """Minutes between required status updates for the incident's severity (None: none)."""
    row = StatusCadence.objects.filter(
        organization_id=incident.organization_id, severity_id=incident.severity_id
    ).first()
    if row is not None:
        return row.minutes
    return STATUS_CADENCE_DEFAULTS.get(incident.severity.level)


def cadence_table(organization: Organization) -> list[tuple[SeverityLevel, int | None, bool]]:
    """(severity, minutes, is_default) for each of the organisation's severities."""
    rows = {
        r.severity_id: r.minutes for r in StatusCadence.objects.filter(organization=organization)
    }
    return [
        (
            severity,
            rows[severity.pk]
            if severity.pk in rows
            else STATUS_CADENCE_DEFAULTS.get(severity.level),
            severity.pk not in rows,
        )
        for severity in SeverityLevel.objects.filter(organization=organization)
    ]


@transaction.atomic
def cadence_save(
    *, organization: Organization, actor: User, minutes: dict[int, int | None]
) -> None:
    """Set the required cadence per severity (severity id → minutes, None for none).
    Open incidents' next deadlines follow."""
    _require_manager(organization, actor, "change the status-update cadence")
    with org_scope(organization):
        severities = {s.pk: s for s in SeverityLevel.objects.filter(organization=organization)}
        for severity_id, value in minutes.items():
            if severity_id not in severities:
                raise ValidationError("Choose one of this organisation's severities.")
            if value is not None and not 1 <= value <= 7 * 24 * 60:
                raise ValidationError(
                    {"minutes": "Between 1 minute and 7 days (10080 minutes), or empty for none."}
                )
            StatusCadence.objects.update_or_create(
                organization=organization,
                severity=severities[severity_id],
                defaults={"minutes": value},
            )
        for incident_id in Incident.objects.filter(
            organization=organization, status__in=OPEN_STATES, severity_id__in=list(minutes)
        ).values_list("pk", flat=True):
            # One incident at a time, locked like a status update locks it, so an update posted
            # meanwhile and this re-plan cannot both open a deadline.
            with transaction.atomic():
                incident = _lock(Incident(pk=incident_id), None)
                if incident.status in OPEN_STATES:
                    on_severity_changed(incident)


# — status updates: deadlines ———————————————————————————————————————————————————————


def open_deadline(incident: Incident) -> StatusDeadline | None:
    return StatusDeadline.objects.filter(
        incident=incident, satisfied_at__isnull=True, cancelled_at__isnull=True
    ).first()


def _schedule(incident: Incident, due_at: datetime, now: datetime) -> StatusDeadline:
    span = max(due_at - now, timedelta(0))
    before = min(REMIND_BEFORE, span * REMIND_SHARE)
    return StatusDeadline.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        due_at=due_at,
        remind_at=due_at - before,
        created_at=now,
    )


def _cancel(incident: Incident, now: datetime) -> int:
    return StatusDeadline.objects.filter(
        incident=incident, satisfied_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=now)


def on_created(incident: Incident) -> None:
    """A declared incident owes its first status update within its severity's cadence."""
    minutes = cadence_minutes(incident)
    if minutes and incident.status in OPEN_STATES:
        _schedule(incident, incident.reported_at + timedelta(minutes=minutes), incident.reported_at)


def on_severity_changed(incident: Incident, now=None) -> None:
    """Re-plan the next update for the new severity: within the new cadence of the last update
    (or the report), never later than a time the last update promised."""
    now = now or timezone.now()
    if incident.status not in OPEN_STATES:
        return
    minutes = cadence_minutes(incident)
    current = open_deadline(incident)
    last = StatusUpdate.objects.filter(incident=incident).order_by("-posted_at").first()
    if not minutes:
        if current is not None and not (last and last.next_update_at == current.due_at):
            _cancel(incident, now)
        return
    base = last.posted_at if last else incident.reported_at
    due = base + timedelta(minutes=minutes)
    if last and last.next_update_at:
        due = min(due, last.next_update_at)
    if current is not None and current.due_at == due:
        return
    _cancel(incident, now)
    _schedule(incident, due, now)


def on_transition(incident: Incident, *, previous: str, target: str, now) -> None:
    """Ended incidents owe no more updates and hand nothing over (a pending handoff is
    cancelled, so nobody is reminded or escalated for it); a reopened one owes an update
    within its cadence."""
    if target not in OPEN_STATES:
        _cancel(incident, now)
        for handoff in Handoff.objects.filter(incident=incident, status=Handoff.Status.PENDING):
            handoff.incident = incident
            _cancel_handoff(
                handoff, actor=None, why=f": the incident is {Status(target).label.lower()}"
            )
        return
    if previous in (Status.RESOLVED, Status.CLOSED) and open_deadline(incident) is None:
        minutes = cadence_minutes(incident)
        if minutes:
            _schedule(incident, now + timedelta(minutes=minutes), now)


def _clean_text(
    name: str,
    value: str,
    *,
    required: bool = False,
    limit: int = TEXT_LIMIT,
    empty: str = "Required.",
) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({name: empty})
    if len(value) > limit:
        raise ValidationError({name: f"At most {limit:,} characters."})
    return value


def broadcast_text(update: StatusUpdate, incident: Incident) -> str:
    lines = [f"{incident.key} · {incident.severity.name} · status update: {update.current_status}"]
    if update.impact:
        lines.append(f"Impact: {update.impact}")
    if update.workaround:
        lines.append(f"Workaround: {update.workaround}")
    if update.body:
        lines.append(update.body)
    if update.next_update_at:
        when = _local(incident, update.next_update_at)
        if when not in update.body:  # a template's body often says it already
            lines.append(f"Next update by {when}.")
    return "\n".join(lines)


@transaction.atomic
def status_update_post(
    *,
    incident: Incident,
    actor: User | None,
    current_status: str,
    impact: str = "",
    workaround: str = "",
    body: str = "",
    next_update_at: datetime | None = None,
    template: StatusUpdateTemplate | None = None,
    now: datetime | None = None,
) -> StatusUpdate:
    """Post a status update: it lands on the timeline, is broadcast to every channel on
    commit, records whether it came on time, and sets the next deadline — `next_update_at`
    if given (no later than the cadence allows), else one cadence from now."""
    now = now or timezone.now()
    organization = incident.organization
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    current_status = _clean_text("current_status", current_status, required=True)
    impact = _clean_text("impact", impact)
    workaround = _clean_text("workaround", workaround)
    body = _clean_text("body", body)
    if template is not None and template.organization_id != organization.pk:
        raise ValidationError({"template": "Choose one of this organisation's templates."})
    incident = _lock(incident, None)
    if incident.status in (Status.DISMISSED, Status.DUPLICATE):
        raise ValidationError(
            f"{incident.key} is {incident.get_status_display().lower()}: it needs no updates."
        )
    is_open = incident.status in OPEN_STATES
    minutes = cadence_minutes(incident) if is_open else None
    latest = now + timedelta(minutes=minutes) if minutes else None
    if next_update_at is not None:
        if next_update_at <= now:
            raise ValidationError({"next_update_at": "Choose a time in the future."})
        if latest is not None and next_update_at > latest:
            raise ValidationError(
                {
                    "next_update_at": (
                        f"{incident.severity} needs an update at least every {minutes} min: "
                        f"choose {_local(incident, latest)} or earlier."
                    )
                }
            )
        if next_update_at > now + timedelta(days=7):
            raise ValidationError({"next_update_at": "At most 7 days ahead."})
    elif latest is not None:
        next_update_at = latest
    deadline = (
        StatusDeadline.objects.select_for_update()
        .filter(incident=incident, satisfied_at__isnull=True, cancelled_at__isnull=True)
        .first()
    )
    due_at = deadline.due_at if deadline else None
    late = max(0, int((now - due_at).total_seconds())) if due_at else None
    update = StatusUpdate.objects.create(
        organization=organization,
        incident=incident,
        author=actor,
        template=template,
        current_status=current_status,
        impact=impact,
        workaround=workaround,
        body=body,
        next_update_at=next_update_at if is_open else None,
        posted_at=now,
        severity_name=incident.severity.name,
        due_at=due_at,
        late_seconds=late,
    )
    if deadline is not None:
        deadline.satisfied_at = now
        deadline.save(update_fields=["satisfied_at"])
    if is_open and update.next_update_at:
        _schedule(incident, update.next_update_at, now)
    adherence = ""
    if late:
        adherence = f" ({_duration(late)} late)"
    text = broadcast_text(update, incident)
    record(
        incident,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=actor,
        message=text.split("status update: ", 1)[1] + adherence,
        update_id=update.pk,
        late_seconds=late,
    )
    _broadcast(incident, text=text, kind="status_update", actor=actor)
    return update


def _duration(seconds: int) -> str:
    minutes = seconds // 60
    if minutes < 1:
        return f"{seconds} s"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


# — handoffs ——————————————————————————————————————————————————————————————————————————


@transaction.atomic
def handoff_create(
    *,
    incident: Incident,
    actor: User,
    incoming: User,
    summary: str,
    outgoing: User | None = None,
    workarounds: str = "",
    pending_actions: list[tuple[str, User | None]] = (),
    questions: list[str] = (),
    now: datetime | None = None,
) -> Handoff:
    """Hand your part of the incident to the next shift. If you command it, command moves
    only when the incoming person acknowledges. Handing over for someone else needs the
    commander's authority."""
    now = now or timezone.now()
    organization = incident.organization
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    outgoing = outgoing or actor
    if outgoing.pk != actor.pk:
        require_command(incident, actor, "record a handoff for someone else")
    if incoming is None:
        raise ValidationError({"incoming": "Choose who takes over."})
    _check_member(organization, "incoming", incoming)
    _check_member(organization, "outgoing", outgoing)
    if incoming.pk == outgoing.pk:
        raise ValidationError({"incoming": "Hand over to someone else."})
    if not incoming.is_active:
        raise ValidationError({"incoming": "That person's account is deactivated."})
    _check_can_act(incident, "incoming", incoming, actor)
    summary = _clean_text("summary", summary, required=True)
    workarounds = _clean_text("workarounds", workarounds)
    actions = []
    for text, owner in pending_actions:
        text = (text or "").strip()
        if not text:
            continue
        if len(text) > 500:
            raise ValidationError({"pending_actions": "Each action: at most 500 characters."})
        _check_member(organization, "pending_actions", owner)
        actions.append(
            {
                "action": text,
                "owner_id": owner.pk if owner else None,
                "owner": owner.display_name if owner else "",
            }
        )
    if len(actions) > MAX_ACTIONS:
        raise ValidationError({"pending_actions": f"At most {MAX_ACTIONS} actions."})
    questions = [q.strip() for q in questions if q and q.strip()]
    if len(questions) > MAX_QUESTIONS:
        raise ValidationError({"questions": f"At most {MAX_QUESTIONS} questions."})
    if any(len(q) > 500 for q in questions):
        raise ValidationError({"questions": "Each question: at most 500 characters."})
    incident = _lock(incident, None)
    if Handoff.objects.filter(incident=incident, status=Handoff.Status.PENDING).exists():
        raise ValidationError(
            "A handoff is already waiting for acknowledgement; it must be acknowledged or "
            "cancelled first."
        )
    handoff = Handoff.objects.create(
        organization=organization,
        incident=incident,
        outgoing=outgoing,
        incoming=incoming,
        summary=summary,
        workarounds=workarounds,
        pending_actions=actions,
        transfers_command=incident.commander_id == outgoing.pk,
        created_by=actor,
        created_at=now,
        remind_at=now + HANDOFF_REMIND_AFTER,
        escalate_at=now + HANDOFF_ESCALATE_AFTER,
    )
    for text in questions:
        OpenQuestion.objects.create(
            organization=organization,
            incident=incident,
            text=text,
            asked_by=outgoing,
            handoff=handoff,
            created_at=now,
        )
    if incident.is_restricted:
        _grant_view(incident, incoming, actor, "handoff")
    command = " (with command)" if handoff.transfers_command else ""
    record(
        incident,
        kind=TimelineEvent.Kind.HANDOFF,
        actor=actor,
        message=f"{outgoing} hands over to {incoming}{command}; waiting for acknowledgement",
        handoff_id=handoff.pk,
    )
    notify.notify_users(
        organization=organization,
        users=[incoming],
        kind="handoff",
        title=f"{incident.key} · {outgoing} hands over to you{command}",
        body=f"Read the handoff and acknowledge it on the incident page.\n\n{summary[:500]}",
        incident=incident,
        url=_path(incident) + f"handoffs/{handoff.pk}/",
        key=f"handoff:{handoff.pk}:created",
        now=now,
    )
    return handoff


@transaction.atomic
def handoff_acknowledge(
    *, handoff: Handoff, actor: User, note: str = "", now: datetime | None = None
) -> Handoff:
    """The incoming person confirms they took over. Only now does command move (when the
    outgoing person still commands)."""
    now = now or timezone.now()
    with org_scope(handoff.organization_id):
        return _handoff_acknowledge(handoff, actor, now, note)


def _handoff_acknowledge(handoff: Handoff, actor: User, now, note: str) -> Handoff:
    handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
    incident = handoff.incident
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    if handoff.incoming_id != actor.pk:
        raise PermissionDenied(f"Only {handoff.incoming} can acknowledge this handoff.")
    if handoff.status != Handoff.Status.PENDING:
        raise ValidationError(f"This handoff is {handoff.get_status_display().lower()} already.")
    note = _clean_text("note", note)
    incident = _lock(incident, None)
    handoff.status = Handoff.Status.ACKNOWLEDGED
    handoff.acknowledged_at = now
    handoff.acknowledgement_note = note
    handoff.save(update_fields=["status", "acknowledged_at", "acknowledgement_note"])
    moved = handoff.transfers_command and incident.commander_id == handoff.outgoing_id
    message = f"{actor} acknowledged the handoff from {handoff.outgoing}"
    if moved:
        incident.commander = actor
        incident.version += 1
        incident.updated_at = now
        incident.save()
        incident.watchers.add(actor)
        message += f"; {actor} now commands the incident"
    elif handoff.transfers_command:
        message += f"; command stays with {incident.commander or 'nobody'} (it changed meanwhile)"
    if note:
        message += f": {note}"
    record(
        incident,
        kind=TimelineEvent.Kind.HANDOFF,
        actor=actor,
        message=message,
        handoff_id=handoff.pk,
        commander_moved=moved,
    )
    notify.notify_users(
        organization=incident.organization,
        users=[handoff.outgoing],
        kind="handoff",
        title=f"{incident.key} · {actor} acknowledged your handoff",
        body=message,
        incident=incident,
        key=f"handoff:{handoff.pk}:acknowledged",
        now=now,
    )
    _broadcast(incident, text=f"{incident.key}: {message}", kind="handoff", actor=actor)
    return handoff


@transaction.atomic
def handoff_cancel(*, handoff: Handoff, actor: User, now: datetime | None = None) -> Handoff:
    """Withdraw a handoff nobody acknowledged (the outgoing person, or the commander's
    authority)."""
    now = now or timezone.now()
    with org_scope(handoff.organization_id):
        return _handoff_cancel(handoff, actor, now)


def _handoff_cancel(handoff: Handoff, actor: User, now) -> Handoff:
    handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
    incident = handoff.incident
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    if handoff.outgoing_id != actor.pk and handoff.created_by_id != actor.pk:
        require_command(incident, actor, "cancel someone else's handoff")
    if handoff.status != Handoff.Status.PENDING:
        raise ValidationError(f"This handoff is {handoff.get_status_display().lower()} already.")
    _cancel_handoff(handoff, actor=actor)
    return handoff


def _cancel_handoff(handoff: Handoff, *, actor: User | None, why: str = "") -> None:
    handoff.status = Handoff.Status.CANCELLED
    handoff.save(update_fields=["status"])
    record(
        handoff.incident,
        kind=TimelineEvent.Kind.HANDOFF,
        actor=actor,
        message=f"Handoff from {handoff.outgoing} to {handoff.incoming} cancelled{why}",
        handoff_id=handoff.pk,
    )


# — decisions and open questions ——————————————————————————————————————————————————————


@transaction.atomic
def decision_record(
    *, incident: Incident, actor: User, text: str, pinned: bool = False, now=None
) -> TimelineEvent:
    """Write a decision into the decision log (a timeline event of kind "decision")."""
    now = now or timezone.now()
    _require(incident.organization, actor, Capability.COMMENT_INCIDENTS)
    text = _clean_text("text", text, required=True, limit=2000, empty="Write the decision first.")
    if pinned:
        _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    event = TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=TimelineEvent.Kind.DECISION,
        actor=actor,
        message=text,
        created_at=now,
        is_pinned=pinned,
        pinned_at=now if pinned else None,
    )
    if pinned:
        _broadcast(
            incident, text=f"{incident.key} · decision: {text}", kind="decision", actor=actor
        )
    return event


@transaction.atomic
def decision_pin(*, incident: Incident, actor: User, event: TimelineEvent, pinned: bool, now=None):
    """Pin a decision to the top of the incident page (broadcast), or unpin it."""
    now = now or timezone.now()
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    event = (
        TimelineEvent.objects.select_for_update()
        .filter(pk=event.pk, incident=incident, kind=TimelineEvent.Kind.DECISION)
        .first()
    )
    if event is None:
        raise ValidationError("Only decisions of this incident can be pinned.")
    if event.is_pinned == pinned:
        return event
    event.is_pinned = pinned
    event.pinned_at = now if pinned else None
    event.save(update_fields=["is_pinned", "pinned_at"])
    if pinned:
        _broadcast(
            incident,
            text=f"{incident.key} · decision: {event.message}",
            kind="decision",
            actor=actor,
        )
    return event


@transaction.atomic
def question_add(*, incident: Incident, actor: User, text: str, now=None) -> OpenQuestion:
    now = now or timezone.now()
    _require(incident.organization, actor, Capability.COMMENT_INCIDENTS)
    text = _clean_text("text", text, required=True, limit=500, empty="Write the question first.")
    question = OpenQuestion.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        text=text,
        asked_by=actor,
        created_at=now,
    )
    record(
        incident,
        kind=TimelineEvent.Kind.QUESTION,
        actor=actor,
        message=f"Open question: {text}",
        question_id=question.pk,
    )
    return question


@transaction.atomic
def question_answer(
    *, incident: Incident, actor: User, question: OpenQuestion, answer: str, now=None
) -> OpenQuestion:
    """Answer (and so close) an open question."""
    now = now or timezone.now()
    _require(incident.organization, actor, Capability.COMMENT_INCIDENTS)
    answer = _clean_text(
        "answer",
        answer,
        required=True,
        limit=2000,
        empty="Write the answer (or why the question is moot).",
    )
    question = (
        OpenQuestion.objects.select_for_update().filter(pk=question.pk, incident=incident).first()
    )
    if question is None:
        raise ValidationError("No such question on this incident.")
    if question.answered_at is not None:
        raise ValidationError("This question was answered already.")
    question.answer = answer
    question.answered_by = actor
    question.answered_at = now
    question.save(update_fields=["answer", "answered_by", "answered_at"])
    record(
        incident,
        kind=TimelineEvent.Kind.QUESTION,
        actor=actor,
        message=f"Answered “{question.text}”: {answer}",
        question_id=question.pk,
    )
    return question


# — the incident page ——————————————————————————————————————————————————————————————————


def coordination_summary(incident: Incident, *, user: User, now=None) -> dict:
    """Everything the incident page's coordination panels show, in a few queries."""
    now = now or timezone.now()
    roles = active_roles(incident)
    singles = {r.role: r for r in roles if r.role != IncidentRole.Kind.RESPONDER}
    deadline = open_deadline(incident)
    handoffs = list(
        Handoff.objects.filter(incident=incident).select_related("outgoing", "incoming")[:10]
    )
    pending = next((h for h in handoffs if h.status == Handoff.Status.PENDING), None)
    refusal = command_refusal(incident, user, "assign roles")
    return {
        "commander": incident.commander,
        "role_slots": [
            {"role": kind, "label": label, "assignment": singles.get(kind)}
            for kind, label in IncidentRole.Kind.choices
            if kind != IncidentRole.Kind.RESPONDER
        ],
        "responders": [r for r in roles if r.role == IncidentRole.Kind.RESPONDER],
        "is_responder": any(
            r.role == IncidentRole.Kind.RESPONDER and r.user_id == user.pk for r in roles
        ),
        "may_command": refusal is None,
        "command_refusal": refusal,
        "needs_commander": incident.severity.is_major
        and incident.commander_id is None
        and incident.status in OPEN_STATES,
        "last_update": StatusUpdate.objects.filter(incident=incident)
        .select_related("author")
        .first(),
        "update_count": StatusUpdate.objects.filter(incident=incident).count(),
        "deadline": deadline,
        "overdue": deadline is not None and deadline.due_at <= now,
        "cadence": cadence_minutes(incident),
        "questions": list(
            OpenQuestion.objects.filter(incident=incident, answered_at__isnull=True).select_related(
                "asked_by"
            )
        ),
        "answered_count": OpenQuestion.objects.filter(
            incident=incident, answered_at__isnull=False
        ).count(),
        "pinned": list(
            TimelineEvent.objects.filter(incident=incident, is_pinned=True)
            .select_related("actor")
            .order_by("-pinned_at")
        ),
        "decisions": list(
            TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.DECISION)
            .select_related("actor")
            .order_by("-created_at", "-pk")[:10]
        ),
        "handoffs": handoffs,
        "pending_handoff": pending,
        "role_choices": [(COMMANDER, ROLE_LABELS[COMMANDER]), *IncidentRole.Kind.choices],
    }


# — the sweeper ——————————————————————————————————————————————————————————————————————


def _status_recipients(incident: Incident) -> list[User]:
    """The commander and the communications lead; the deputy when neither is set, else the
    incident's watchers — somebody must hear it."""
    people = [incident.commander] if incident.commander_id else []
    comms = _holder(incident, IncidentRole.Kind.COMMS)
    if comms is not None:
        people.append(comms)
    if not people:
        deputy = _holder(incident, IncidentRole.Kind.DEPUTY)
        people = [deputy] if deputy else list(incident.watchers.filter(is_active=True))
    return people


def _claim(queryset_for, at, size: int) -> list:
    with scopes_disabled():  # the due rows of every organisation
        queryset = queryset_for(at)
    return sweeps.claim(queryset, size, related=("incident__organization", "incident__severity"))


def _status_overdue(deadline: StatusDeadline, now) -> None:
    incident = deadline.incident
    deadline.overdue_at = now
    deadline.reminded_at = deadline.reminded_at or now  # never a "due soon" after "overdue"
    deadline.save(update_fields=["overdue_at", "reminded_at"])
    record(
        incident,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=None,
        message=f"Status update overdue (was due {_local(incident, deadline.due_at)})",
        deadline_id=deadline.pk,
        overdue=True,
    )
    notify.notify_users(
        organization=incident.organization,
        users=_status_recipients(incident),
        kind="status_overdue",
        title=f"{incident.key} · status update overdue",
        body=f"The next status update on {incident.title} was due "
        f"{_local(incident, deadline.due_at)}. Post one now.",
        incident=incident,
        url=_path(incident) + "updates/new/",
        key=f"status-overdue:{deadline.pk}",
        now=now,
    )


def _status_reminder(deadline: StatusDeadline, now) -> None:
    incident = deadline.incident
    deadline.reminded_at = now
    deadline.save(update_fields=["reminded_at"])
    left = max(1, int((deadline.due_at - now).total_seconds() // 60))
    notify.notify_users(
        organization=incident.organization,
        users=_status_recipients(incident),
        kind="status_due",
        title=f"{incident.key} · status update due in {left} min",
        body=f"The next status update on {incident.title} is due "
        f"{_local(incident, deadline.due_at)}.",
        incident=incident,
        url=_path(incident) + "updates/new/",
        key=f"status-due:{deadline.pk}",
        now=now,
    )


def _handoff_reminder(handoff: Handoff, now) -> None:
    incident = handoff.incident
    handoff.reminded_at = now
    handoff.save(update_fields=["reminded_at"])
    notify.notify_users(
        organization=incident.organization,
        users=[handoff.incoming, handoff.outgoing],
        kind="handoff",
        title=f"{incident.key} · handoff to {handoff.incoming} not acknowledged yet",
        body=f"{handoff.outgoing} handed over at {_local(incident, handoff.created_at)}. "
        f"{handoff.incoming}: read it and acknowledge on the incident page.",
        incident=incident,
        url=_path(incident) + f"handoffs/{handoff.pk}/",
        key=f"handoff:{handoff.pk}:reminder",
        now=now,
    )


def _handoff_escalation(handoff: Handoff, now) -> None:
    incident = handoff.incident
    handoff.escalated_at = now
    handoff.reminded_at = handoff.reminded_at or now
    handoff.save(update_fields=["escalated_at", "reminded_at"])
    managers = [
        m.user
        for m in Membership.objects.filter(
            organization_id=incident.organization_id, role__in=[Role.MANAGER, Role.ADMIN]
        ).select_related("user")
    ]
    record(
        incident,
        kind=TimelineEvent.Kind.HANDOFF,
        actor=None,
        message=f"Handoff from {handoff.outgoing} to {handoff.incoming} unacknowledged since "
        f"{_local(incident, handoff.created_at)}; escalated to the managers",
        handoff_id=handoff.pk,
    )
    notify.notify_users(
        organization=incident.organization,
        users=managers,
        kind="handoff_escalation",
        title=f"{incident.key} · handoff not acknowledged",
        body=f"{handoff.outgoing} handed over to {handoff.incoming} at "
        f"{_local(incident, handoff.created_at)} and nobody acknowledged it. "
        "Make sure someone has taken over.",
        incident=incident,
        url=_path(incident) + f"handoffs/{handoff.pk}/",
        key=f"handoff:{handoff.pk}:escalation",
        now=now,
    )


def _pass(name: str, queryset_for, act, moment, limit: int, counts: dict) -> None:
    while counts[name] < limit:
        at = moment()
        with transaction.atomic():
            rows = _claim(queryset_for, at, min(CHUNK, limit - counts[name]))
            for row in rows:
                try:
                    # A savepoint per row: one row that fails is logged and tried again on the
                    # next sweep; it does not take the rest of the chunk down with it.
                    with org_scope(row.organization_id), transaction.atomic():
                        act(row, at)
                except Exception:
                    logger.exception("coordination sweep: %s of %s failed", name, row.pk)
        counts[name] += len(rows)
        if not rows:
            return


def sweep(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Claim and act on due coordination deadlines across organisations: overdue status
    updates, then reminders before they are due, then handoff escalations and reminders.
    Each row is marked in the transaction that notifies, so it fires exactly once."""
    fixed = now is not None

    def moment():
        return now if fixed else timezone.now()

    counts = {"status_overdue": 0, "status_reminded": 0, "handoff_escalated": 0,
              "handoff_reminded": 0}  # fmt: skip
    open_deadlines = {"satisfied_at__isnull": True, "cancelled_at__isnull": True}
    _pass(
        "status_overdue",
        lambda at: StatusDeadline.objects.filter(
            due_at__lte=at, overdue_at__isnull=True, **open_deadlines
        ),
        _status_overdue,
        moment,
        limit,
        counts,
    )
    _pass(
        "status_reminded",
        lambda at: StatusDeadline.objects.filter(
            remind_at__lte=at, reminded_at__isnull=True, **open_deadlines
        ),
        _status_reminder,
        moment,
        limit,
        counts,
    )
    _pass(
        "handoff_escalated",
        lambda at: Handoff.objects.filter(
            status=Handoff.Status.PENDING, escalate_at__lte=at, escalated_at__isnull=True
        ),
        _handoff_escalation,
        moment,
        limit,
        counts,
    )
    _pass(
        "handoff_reminded",
        lambda at: Handoff.objects.filter(
            status=Handoff.Status.PENDING, remind_at__lte=at, reminded_at__isnull=True
        ),
        _handoff_reminder,
        moment,
        limit,
        counts,
    )
    return counts


def next_due(now=None) -> datetime | None:
    """The nearest moment this sweeper has something to do."""
    from django.db.models import Min

    with scopes_disabled():
        candidates = [
            StatusDeadline.objects.filter(
                reminded_at__isnull=True, satisfied_at__isnull=True, cancelled_at__isnull=True
            ).aggregate(m=Min("remind_at"))["m"],
            StatusDeadline.objects.filter(
                overdue_at__isnull=True, satisfied_at__isnull=True, cancelled_at__isnull=True
            ).aggregate(m=Min("due_at"))["m"],
            Handoff.objects.filter(
                status=Handoff.Status.PENDING, reminded_at__isnull=True
            ).aggregate(m=Min("remind_at"))["m"],
            Handoff.objects.filter(
                status=Handoff.Status.PENDING, escalated_at__isnull=True
            ).aggregate(m=Min("escalate_at"))["m"],
        ]
    present = [c for c in candidates if c is not None]
    return min(present) if present else None
