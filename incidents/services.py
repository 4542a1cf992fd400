"""Every write to incidents: declare, update, transition, comment, verify, hand over ownership,
mark duplicates, restrict access. Each runs in one transaction with its timeline entries."""

import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_fsm import has_transition_perm
from guardian.shortcuts import assign_perm, remove_perm

from incidents import lifecycle, notify, signals, sla
from incidents.lifecycle import TRANSITIONS, Missing, Status
from incidents.models import (
    ImpactPeriod,
    Incident,
    OwnershipRequest,
    TimelineEvent,
    Verification,
)
from taxonomy.assessment import Answers, propose_severity
from taxonomy.classification import classify_static
from taxonomy.custom_fields import clean_custom_fields
from taxonomy.models import (
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    OrgSettings,
    Service,
    SeverityLevel,
)
from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Capability, Role, can

logger = logging.getLogger(__name__)
VIEW_PERM = "incidents.view_incident"


class RequirementsMissing(ValidationError):
    """A transition is blocked; `missing` names each thing that stops it."""

    def __init__(self, missing: list[Missing]):
        self.missing = missing
        super().__init__(lifecycle.describe_missing(missing))


class ConcurrentChange(ValidationError):
    def __init__(self):
        super().__init__(
            "This incident was changed by someone else meanwhile. Reload to see the change, "
            "then try again."
        )


# — helpers ——————————————————————————————————————————————————————————————————————————


def role_of(organization: Organization, user: User | None) -> str | None:
    if user is None:
        return None
    return (
        Membership.objects.with_scopes_disabled()  # the actor's role, in this org only
        .filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )


def _require(organization: Organization, actor: User | None, capability: Capability) -> None:
    """`actor=None` is Vigil itself (alerts, commands with no user): always allowed."""
    if actor is not None and not can(role_of(organization, actor), capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")


def is_manager(organization: Organization, user: User | None) -> bool:
    """Org managers (manager and admin roles) hold command authority on every incident."""
    return role_of(organization, user) in (Role.MANAGER, Role.ADMIN)


def command_refusal(incident: Incident, actor: User | None, what: str) -> str | None:
    """Why `actor` may not use the incident commander's authority (change severity, assign
    roles, close a SEV-1/SEV-2) on `incident`, or None when they may. The commander and the
    organisation's managers may; while nobody commands, anyone who may update incidents may.
    `actor=None` is Vigil itself."""
    if actor is None:
        return None
    role = role_of(incident.organization, actor)
    if role in (Role.MANAGER, Role.ADMIN):
        return None
    if not can(role, Capability.UPDATE_INCIDENTS):
        return f"Your role may not {what}."
    if incident.commander_id is None or incident.commander_id == actor.pk:
        return None
    return (
        f"Only the incident commander ({incident.commander}) or a manager may {what}. "
        "Ask them, or ask for a handoff."
    )


# Transitions that end a major incident for good: the commander's (or a manager's) call.
ENDING = {"close": "close", "dismiss": "dismiss", "mark_duplicate": "mark as duplicate"}


def require_command(incident: Incident, actor: User | None, what: str) -> None:
    refusal = command_refusal(incident, actor, what)
    if refusal:
        raise PermissionDenied(refusal)


def member_ids(organization: Organization) -> set[int]:
    return set(
        Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    )


def _check_same_org(organization: Organization, **objects) -> None:
    errors = {}
    for name, obj in objects.items():
        items = [obj] if obj is None or hasattr(obj, "organization_id") else list(obj)
        for item in items:
            if item is not None and item.organization_id != organization.pk:
                errors[name] = "Choose one of this organisation's own."
    if errors:
        raise ValidationError(errors)


def _check_member(organization: Organization, field: str, user: User | None) -> None:
    if user is not None and user.pk not in member_ids(organization):
        raise ValidationError({field: "Choose a member of this organisation."})


def record(incident: Incident, *, kind: str, actor: User | None, message: str, **data):
    return TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=kind,
        actor=actor,
        message=message,
        data=data,
    )


def _lock(incident: Incident, expected_version: int | None) -> Incident:
    # NO KEY UPDATE: serialises the services on the incident without blocking the foreign-key
    # checks of rows that point at it (a sweeper inserting a timeline event or notification
    # while a request holds the incident would otherwise deadlock with it).
    locked = Incident.objects.select_for_update(no_key=True).get(pk=incident.pk)
    if expected_version is not None and locked.version != expected_version:
        raise ConcurrentChange()
    return locked


def _allocate_number(organization: Organization) -> int:
    """The next incident number. The counter row stays locked until this transaction ends, so
    concurrent declarations queue up and a rolled-back one gives its number back."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO incidents_keycounter (organization_id, last_number) VALUES (%s, 1)
            ON CONFLICT (organization_id)
            DO UPDATE SET last_number = incidents_keycounter.last_number + 1
            RETURNING last_number
            """,
            [organization.pk],
        )
        return cursor.fetchone()[0]


def _grant_view(incident: Incident, user: User | None, actor: User | None, why: str) -> None:
    if user is None or user.has_perm(VIEW_PERM, incident):
        return
    assign_perm("view_incident", user, incident)
    record(
        incident,
        kind=TimelineEvent.Kind.ACCESS,
        actor=actor,
        message=f"Access granted to {user} ({why})",
        user_id=user.pk,
    )


def _on_commit_send(signal, incident: Incident, **kwargs) -> None:
    org_id, incident_id = incident.organization_id, incident.pk
    transaction.on_commit(
        lambda: signal.send(
            sender=Incident, organization_id=org_id, incident_id=incident_id, **kwargs
        )
    )


# — declare ———————————————————————————————————————————————————————————————————————————


def _apply_rules(organization, *, text, service, labels, chosen: dict) -> str:
    rules = list(
        ClassificationRule.objects.filter(organization=organization, is_active=True).select_related(
            "set_category", "set_severity", "set_service", "set_team"
        )
    )
    match = classify_static(
        rules, text=text, service_id=service.pk if service else None, labels=labels
    )
    if match is None:
        return ""
    applied = []
    for field, value in (
        ("category", match.category),
        ("severity", match.severity),
        ("primary_service", match.service),
        ("owning_team", match.team),
    ):
        if value is not None and chosen.get(field) is None:
            chosen[field] = value
            applied.append(f"{field.replace('_', ' ')} {value}")
    if not applied:
        return ""
    return f"Rule “{match.rule.name}” set " + ", ".join(applied)


@transaction.atomic
def incident_create(
    *,
    organization: Organization,
    actor: User | None,
    title: str,
    severity: SeverityLevel | None = None,
    description: str = "",
    category: Category | None = None,
    primary_service: Service | None = None,
    affected_services=(),
    owning_team: Team | None = None,
    involved_teams=(),
    commander: User | None = None,
    source: str = Incident.Source.MANUAL,
    kind: str = Incident.Kind.REAL,
    is_restricted: bool = False,
    detected_at=None,
    custom_fields: dict | None = None,
    assessment: Answers | None = None,
    override_reason: str = "",
    labels: dict | None = None,
    apply_rules: bool = True,
) -> Incident:
    """Declare an incident. The form, `report_incident`, the API and alert ingestion all come
    here. Missing classification is filled by the organisation's rules; a severity that
    differs from the assessment's proposal needs a reason, which lands on the timeline."""
    _require(organization, actor, Capability.CREATE_INCIDENTS)
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "Say in a few words what is wrong."})
    if len(title) > 200:
        raise ValidationError({"title": "At most 200 characters."})
    if source not in Incident.Source.values:
        raise ValidationError({"source": "Unknown source."})
    if kind not in Incident.Kind.values:
        raise ValidationError({"kind": "Choose real, test or game day."})
    affected_services = list(affected_services)
    involved_teams = list(involved_teams)
    _check_same_org(
        organization,
        severity=severity,
        category=category,
        primary_service=primary_service,
        affected_services=affected_services,
        owning_team=owning_team,
        involved_teams=involved_teams,
    )
    _check_member(organization, "commander", commander)
    now = timezone.now()
    detected_at = detected_at or now
    if detected_at > now + timedelta(minutes=5):
        raise ValidationError({"detected_at": "Detection cannot be in the future."})

    chosen = {
        "category": category,
        "severity": severity,
        "primary_service": primary_service,
        "owning_team": owning_team,
    }
    levels = list(SeverityLevel.objects.filter(organization=organization))
    proposal = propose_severity(levels, assessment) if assessment is not None else None
    if chosen["severity"] is None and proposal is not None:
        # The responder answered the assessment: its proposal beats a rule's guess.
        chosen["severity"] = proposal.severity
    rule_text = ""
    if apply_rules:
        rule_text = _apply_rules(
            organization,
            text=f"{title}\n{description}",
            service=primary_service,
            labels=labels or {},
            chosen=chosen,
        )
    if chosen["severity"] is None:
        chosen["severity"] = proposal.severity if proposal else (levels[-1] if levels else None)
    if chosen["severity"] is None:
        raise ValidationError({"severity": "This organisation has no severity levels yet."})
    overridden = proposal is not None and proposal.severity.pk != chosen["severity"].pk
    if overridden and not override_reason.strip():
        raise ValidationError(
            {
                "override_reason": (
                    f"The assessment proposes {proposal.text}. Say why you chose "
                    f"{chosen['severity']} instead."
                )
            }
        )
    if chosen["owning_team"] is None and chosen["primary_service"] is not None:
        chosen["owning_team"] = chosen["primary_service"].owning_team

    definitions = list(CustomFieldDefinition.objects.filter(organization=organization))
    cleaned_custom = clean_custom_fields(
        definitions, custom_fields or {}, member_ids=member_ids(organization)
    )

    number = _allocate_number(organization)
    incident = Incident.objects.create(
        organization=organization,
        number=number,
        key=f"{organization.key_prefix}-{number}",
        title=title,
        description=description.strip(),
        severity=chosen["severity"],
        category=chosen["category"],
        primary_service=chosen["primary_service"],
        owning_team=chosen["owning_team"],
        commander=commander,
        reporter=actor,
        source=source,
        kind=kind,
        is_restricted=is_restricted,
        detected_at=detected_at,
        reported_at=now,
        custom_fields=cleaned_custom,
        severity_assessment=(
            {
                "answers": assessment.as_dict(),
                "proposed": proposal.severity.name,
                "reasoning": proposal.text,
                "override_reason": override_reason.strip() if overridden else "",
            }
            if proposal
            else {}
        ),
    )
    services_all = set(affected_services)
    if chosen["primary_service"] is not None:
        services_all.add(chosen["primary_service"])
    # A new incident has no rows in these yet: add() only what there is (set() would first
    # read the empty relation, three queries per declaration for nothing).
    if services_all:
        incident.affected_services.add(*services_all)
    if involved_teams:
        incident.involved_teams.add(*involved_teams)
    watchers = {u for u in (actor, commander) if u is not None}
    if watchers:
        incident.watchers.add(*watchers)
    ImpactPeriod.objects.create(
        organization=organization, incident=incident, number=1, started_at=detected_at
    )
    sla.on_created(incident)
    from incidents import coordination

    coordination.on_created(incident)
    record(
        incident,
        kind=TimelineEvent.Kind.CREATED,
        actor=actor,
        message=f"Declared {incident.severity}: {incident.title}",
        severity=incident.severity.name,
        source=source,
    )
    if proposal is not None:
        if overridden:
            record(
                incident,
                kind=TimelineEvent.Kind.SEVERITY,
                actor=actor,
                message=(
                    f"Severity set to {incident.severity} against the assessment "
                    f"({proposal.text}). Reason: {override_reason.strip()}"
                ),
                proposed=proposal.severity.name,
                chosen=incident.severity.name,
            )
        else:
            record(
                incident,
                kind=TimelineEvent.Kind.SEVERITY,
                actor=actor,
                message=f"Severity from the assessment: {proposal.text}",
                proposed=proposal.severity.name,
            )
    if rule_text:
        record(incident, kind=TimelineEvent.Kind.CLASSIFICATION, actor=None, message=rule_text)
    if is_restricted:
        _grant_view(incident, actor, actor, "reporter")
        _grant_view(incident, commander, actor, "commander")
    notify.post_to_chat(
        organization=organization,
        incident=incident,
        text=f"Declared {incident.key} · {incident.severity} · {incident.title}",
        key=f"chat:declared:{incident.pk}",
    )
    from incidents.registry import creation_hooks

    for hook in creation_hooks:
        hook(incident=incident)
    _on_commit_send(signals.incident_created, incident, actor_id=actor.pk if actor else None)
    return incident


# — update ————————————————————————————————————————————————————————————————————————————

EDITABLE = [
    "title",
    "description",
    "category",
    "primary_service",
    "owning_team",
    "commander",
    "kind",
    "detected_at",
    "impact_summary",
    "resolution_summary",
    "root_cause_category",
    "custom_fields",
]
EDITABLE_M2M = ["affected_services", "involved_teams"]


def _display(incident: Incident, field: str, value) -> str:
    if value in (None, ""):
        return "—"
    if field == "kind":
        return Incident.Kind(value).label
    if field == "root_cause_category":
        return Incident.RootCause(value).label
    if field == "detected_at":
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
    if isinstance(value, list | set | tuple):
        return ", ".join(sorted(str(v) for v in value)) or "—"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


@transaction.atomic
def incident_update(
    *,
    incident: Incident,
    actor: User | None,
    changes: dict,
    expected_version: int | None = None,
) -> Incident:
    """Change facts of an incident. Each changed field is one timeline entry; a changed category
    marks the incident as reclassified. Severity has its own service (it needs a reason)."""
    organization = incident.organization
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    unknown = set(changes) - set(EDITABLE) - set(EDITABLE_M2M)
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    incident = _lock(incident, expected_version)
    _check_same_org(
        organization,
        **{
            k: v
            for k, v in changes.items()
            if k
            in ("category", "primary_service", "owning_team", "affected_services", "involved_teams")
        },
    )
    if "commander" in changes:
        _check_member(organization, "commander", changes["commander"])
        if changes["commander"] != incident.commander:
            require_command(incident, actor, "assign the commander")
    if "title" in changes:
        changes["title"] = (changes["title"] or "").strip()
        if not changes["title"]:
            raise ValidationError({"title": "Say in a few words what is wrong."})
    if "root_cause_category" in changes and changes["root_cause_category"] not in (
        "",
        *Incident.RootCause.values,
    ):
        raise ValidationError({"root_cause_category": "Choose one of the root-cause categories."})
    if "custom_fields" in changes:
        definitions = list(CustomFieldDefinition.objects.filter(organization=organization))
        changes["custom_fields"] = clean_custom_fields(
            definitions, changes["custom_fields"], member_ids=member_ids(organization)
        )
    changed = []
    for field in EDITABLE:
        if field not in changes:
            continue
        old, new = getattr(incident, field), changes[field]
        if field == "custom_fields":
            definitions = {
                d.key: d for d in CustomFieldDefinition.objects.filter(organization=organization)
            }
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    label = definitions[key].label if key in definitions else key
                    sensitive = key in definitions and definitions[key].is_sensitive
                    before = _display(incident, "custom", old.get(key))
                    after = _display(incident, "custom", new.get(key))
                    record(
                        incident,
                        kind=TimelineEvent.Kind.FIELD,
                        actor=actor,
                        message=(
                            f"Changed “{label}”"
                            if sensitive
                            else f"Changed “{label}” from {before} to {after}"
                        ),
                        field=f"custom:{key}",
                    )
            if old != new:
                incident.custom_fields = new
                changed.append(field)
            continue
        if old == new:
            continue
        setattr(incident, field, new)
        changed.append(field)
        label = Incident._meta.get_field(field).verbose_name
        long_text = field in ("description", "impact_summary", "resolution_summary")
        record(
            incident,
            kind=(
                TimelineEvent.Kind.CLASSIFICATION
                if field == "category"
                else TimelineEvent.Kind.FIELD
            ),
            actor=actor,
            message=(
                f"Updated the {label}"
                if long_text
                else f"Changed {label} from {_display(incident, field, old)} to "
                f"{_display(incident, field, new)}"
            ),
            field=field,
        )
        if field == "category":
            incident.reclassified = True
        if field == "commander" and new is not None:
            incident.watchers.add(new)
            if incident.is_restricted:
                _grant_view(incident, new, actor, "commander")
    for field in EDITABLE_M2M:
        if field not in changes:
            continue
        manager = getattr(incident, field)
        old = set(manager.all())
        new = set(changes[field])
        if old != new:
            manager.set(new)
            changed.append(field)
            label = field.replace("_", " ")
            record(
                incident,
                kind=TimelineEvent.Kind.FIELD,
                actor=actor,
                message=f"Changed {label} to {_display(incident, field, new)}",
                field=field,
            )
    if changed:
        incident.version += 1
        incident.updated_at = timezone.now()
        incident.save()
        if "category" in changed:  # a category may have its own SLA policy
            sla.on_severity_changed(incident, actor=actor)
        _on_commit_send(
            signals.incident_changed, incident, fields=changed, actor_id=actor.pk if actor else None
        )
    return incident


@transaction.atomic
def incident_change_severity(
    *,
    incident: Incident,
    actor: User | None,
    severity: SeverityLevel,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Raise or lower the severity, with the reason on the timeline."""
    organization = incident.organization
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    _check_same_org(organization, severity=severity)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the severity changes."})
    incident = _lock(incident, expected_version)
    require_command(incident, actor, "change the severity")
    if incident.severity_id == severity.pk:
        return incident
    previous = incident.severity
    incident.severity = severity
    incident.reclassified = True
    incident.version += 1
    incident.updated_at = timezone.now()
    incident.save()
    record(
        incident,
        kind=TimelineEvent.Kind.SEVERITY,
        actor=actor,
        message=f"Severity changed from {previous} to {severity}. Reason: {reason.strip()}",
        previous=previous.name,
        chosen=severity.name,
    )
    sla.on_severity_changed(incident, actor=actor)
    from incidents import coordination

    coordination.on_severity_changed(incident)
    _on_commit_send(
        signals.incident_changed,
        incident,
        fields=["severity"],
        actor_id=actor.pk if actor else None,
    )
    return incident


@transaction.atomic
def incident_comment(*, incident: Incident, actor: User, text: str) -> TimelineEvent:
    _require(incident.organization, actor, Capability.COMMENT_INCIDENTS)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write something first."})
    if len(text) > 10_000:
        raise ValidationError({"text": "At most 10,000 characters."})
    return record(incident, kind=TimelineEvent.Kind.COMMENT, actor=actor, message=text)


# — transitions ———————————————————————————————————————————————————————————————————————


def available_transitions(incident: Incident, user: User) -> list[dict]:
    """Each transition possible from the current state, whether the user may run it, and what is
    missing — for the buttons on the detail page."""
    definitions = list(
        CustomFieldDefinition.objects.filter(organization_id=incident.organization_id)
    )
    allowed_role = can(role_of(incident.organization, user), Capability.TRANSITION_INCIDENTS)
    options = []
    for name, (sources, target, label) in TRANSITIONS.items():
        if incident.status not in sources:
            continue
        missing = lifecycle.missing_for(incident, target, definitions)
        refusal = None
        if allowed_role and name in ENDING and incident.severity.is_major:
            refusal = command_refusal(incident, user, f"{ENDING[name]} a {incident.severity}")
        options.append(
            {
                "name": name,
                "label": label,
                "target": target,
                "missing": missing,
                "refusal": refusal,
                "allowed": allowed_role,
                "needs_note": name in ("dismiss", "reopen"),
                "needs_primary": name == "mark_duplicate",
            }
        )
    return options


def _allowed_method(incident: Incident, name: str):
    if name not in TRANSITIONS:
        raise ValidationError(f"“{name}” is not a transition.")
    sources, _, label = TRANSITIONS[name]
    if incident.status not in sources:
        state = incident.get_status_display().lower()
        raise ValidationError(f"“{label}” is not possible while the incident is {state}.")
    return getattr(incident, name)


def _close_open_period(incident: Incident, when) -> None:
    ImpactPeriod.objects.filter(incident=incident, ended_at__isnull=True).update(ended_at=when)


@transaction.atomic
def incident_transition(
    *,
    incident: Incident,
    name: str,
    actor: User | None,
    note: str = "",
    expected_version: int | None = None,
    duplicate_of: Incident | None = None,
) -> Incident:
    """Move an incident through its lifecycle. Refused — with nothing changed — when the
    transition is not possible from this state, the actor's role may not, a requirement is
    missing (each one named), or someone else changed the incident meanwhile."""
    incident = _lock(incident, expected_version)
    method = _allowed_method(incident, name)
    _require(incident.organization, actor, Capability.TRANSITION_INCIDENTS)
    target = TRANSITIONS[name][1]
    missing = lifecycle.missing_for(incident, target)
    if missing:
        raise RequirementsMissing(missing)
    if name in ENDING and incident.severity.is_major:
        require_command(incident, actor, f"{ENDING[name]} a {incident.severity}")
    # django-fsm's own check (role and conditions) as the last word; the two checks above
    # only exist to say *why* in words a responder understands.
    if actor is not None and not has_transition_perm(method, actor):
        raise PermissionDenied("Your role may not move incidents through their lifecycle.")
    note = (note or "").strip()
    if name == "dismiss" and not note:
        raise ValidationError({"note": "Say why this is a false positive."})
    if name == "reopen" and not note:
        raise ValidationError({"note": "Say why the incident is reopened."})
    if name == "mark_duplicate":
        duplicate_of = _check_primary(incident, duplicate_of)

    previous = incident.status
    now = timezone.now()
    method()
    if target == Status.INVESTIGATING and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if target == Status.MITIGATED:
        incident.mitigated_at = now
        _close_open_period(incident, now)
    if target == Status.RESOLVED:
        incident.resolved_at = now
        if incident.mitigated_at is None or previous == Status.INVESTIGATING:
            incident.mitigated_at = now  # resolved straight from investigating
        _close_open_period(incident, now)
    if target == Status.CLOSED:
        incident.closed_at = now
    if name == "dismiss":
        _close_open_period(incident, now)
    if name == "reopen":
        incident.reopen_count += 1
        incident.closed_at = None
        last = incident.impact_periods.order_by("-number").first()
        ImpactPeriod.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            number=(last.number + 1) if last else 1,
            started_at=now,
            reopen_reason=note,
        )
    if name == "mark_duplicate":
        incident.duplicate_of = duplicate_of
        _close_open_period(incident, now)
    incident.version += 1
    incident.updated_at = now
    incident.save()
    sla.on_transition(incident, previous=previous, target=target, now=now)
    from incidents import coordination

    coordination.on_transition(incident, previous=previous, target=target, now=now)
    from incidents.registry import transition_hooks

    for hook in transition_hooks:
        hook(incident=incident, previous=previous, target=target)
    message = f"{incident.get_status_display()} (was {Status(previous).label.lower()})"
    record(
        incident,
        kind=TimelineEvent.Kind.STATUS,
        actor=actor,
        message=message + (f": {note}" if note else ""),
        transition=name,
        previous=previous,
        target=target,
    )
    if name == "mark_duplicate":
        _merge_into(incident, duplicate_of, actor)
    notify.post_to_chat(
        organization=incident.organization,
        incident=incident,
        text=f"{incident.key} is now {incident.get_status_display().lower()}"
        + (f" ({actor})" if actor else ""),
        key=f"chat:status:{incident.pk}:{incident.version}",
    )
    _on_commit_send(
        signals.incident_transitioned,
        incident,
        transition=name,
        previous=previous,
        target=target,
        actor_id=actor.pk if actor else None,
    )
    return incident


def _check_primary(incident: Incident, primary: Incident | None) -> Incident:
    if primary is None:
        raise ValidationError({"duplicate_of": "Choose the incident this one duplicates."})
    if primary.organization_id != incident.organization_id:
        raise ValidationError({"duplicate_of": "Choose one of this organisation's incidents."})
    seen = {incident.pk}
    while primary.duplicate_of_id is not None:  # join the root, never a chain
        if primary.pk in seen:
            break
        seen.add(primary.pk)
        primary = primary.duplicate_of
    if primary.pk == incident.pk:
        raise ValidationError({"duplicate_of": "An incident cannot duplicate itself."})
    if primary.status == Status.DISMISSED:
        raise ValidationError({"duplicate_of": f"{primary.key} was dismissed; choose another."})
    return primary


def _merge_into(duplicate: Incident, primary: Incident, actor: User | None) -> None:
    """Move the duplicate's watchers (and, later, its alerts) to the primary. Nothing is deleted."""
    primary.watchers.add(*duplicate.watchers.all())
    from incidents.registry import duplicate_movers

    for mover in duplicate_movers:
        mover(duplicate=duplicate, primary=primary)
    record(
        primary,
        kind=TimelineEvent.Kind.DUPLICATE,
        actor=actor,
        message=f"{duplicate.key} ({duplicate.title}) was marked a duplicate of this incident",
        duplicate=duplicate.key,
    )
    record(
        duplicate,
        kind=TimelineEvent.Kind.DUPLICATE,
        actor=actor,
        message=f"Duplicate of {primary.key} ({primary.title}); watchers moved there",
        primary=primary.key,
    )


# — verification ——————————————————————————————————————————————————————————————————————


@transaction.atomic
def verification_request_confirmation(
    *, incident: Incident, actor: User, confirmer: User, note: str = ""
) -> Verification:
    """Ask a named person to confirm in Vigil that the service works for them again."""
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    _check_member(incident.organization, "confirmer", confirmer)
    if confirmer is None:
        raise ValidationError({"confirmer": "Choose who confirms."})
    verification = Verification.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        method=Verification.Method.CONFIRMATION,
        requested_by=actor,
        confirmer=confirmer,
        note=note.strip(),
    )
    record(
        incident,
        kind=TimelineEvent.Kind.VERIFICATION,
        actor=actor,
        message=f"Asked {confirmer} to confirm the fix",
        verification_id=verification.pk,
    )
    return verification


@transaction.atomic
def verification_confirm(
    *, verification: Verification, actor: User, passed: bool, note: str = ""
) -> Verification:
    """The named confirmer says whether it works. Nobody else can answer for them."""
    verification = Verification.objects.select_for_update().get(pk=verification.pk)
    if verification.method != Verification.Method.CONFIRMATION:
        raise ValidationError("This verification is an automated health check.")
    if verification.confirmer_id != actor.pk:
        raise PermissionDenied(f"Only {verification.confirmer} can answer this confirmation.")
    if verification.status != Verification.Status.PENDING:
        raise ValidationError("This confirmation was answered already.")
    if not passed and not note.strip():
        raise ValidationError({"note": "Say what still does not work."})
    verification.status = Verification.Status.PASSED if passed else Verification.Status.FAILED
    verification.completed_at = timezone.now()
    verification.note = note.strip() or verification.note
    verification.save()
    record(
        verification.incident,
        kind=TimelineEvent.Kind.VERIFICATION,
        actor=actor,
        message=(
            f"{actor} confirmed the fix works"
            if passed
            else f"{actor} reports it still does not work: {note.strip()}"
        ),
        verification_id=verification.pk,
        passed=passed,
    )
    return verification


def _health_url(incident: Incident) -> str:
    if incident.primary_service and incident.primary_service.health_check_url:
        return incident.primary_service.health_check_url
    for service in incident.affected_services.all():
        if service.health_check_url:
            return service.health_check_url
    return ""


@transaction.atomic
def verification_start_health_check(*, incident: Incident, actor: User) -> Verification:
    """Queue an automated GET of the affected service's health URL (a Celery task runs it)."""
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    url = _health_url(incident)
    if not url:
        raise ValidationError(
            "No affected service has a health-check URL; ask for a confirmation instead."
        )
    verification = Verification.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        method=Verification.Method.HEALTH_CHECK,
        requested_by=actor,
        url=url,
    )
    record(
        incident,
        kind=TimelineEvent.Kind.VERIFICATION,
        actor=actor,
        message=f"Started an automated health check of {url}",
        verification_id=verification.pk,
    )
    org_id, verification_id = incident.organization_id, verification.pk
    transaction.on_commit(lambda: _queue_health_check(org_id, verification_id))
    return verification


def _queue_health_check(org_id: int, verification_id: int) -> None:
    """After commit. The broker down does not fail the request: the check stays pending and
    verification_sweep_health_checks runs it (docs/reliability.md)."""
    from incidents.tasks import run_health_check_task

    try:
        run_health_check_task.delay(org_id, verification_id)
    except Exception as error:  # noqa: BLE001 — whatever the broker raised
        logger.warning(
            "could not queue health check %s (%s); the sweep will run it",
            verification_id,
            type(error).__name__,
        )


HEALTH_CHECK_REDRIVE_AFTER = timedelta(minutes=1)


def verification_sweep_health_checks(*, now=None, limit: int = 20) -> int:
    """Run the health checks still pending a minute after they were started: their message
    was never queued (the broker was down) or was lost with the broker. Reads across
    organisations; runs each in its own. Returns how many ran."""
    from django_scopes import scopes_disabled

    from tenancy.scoping import org_scope

    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            Verification.objects.filter(
                method=Verification.Method.HEALTH_CHECK,
                status=Verification.Status.PENDING,
                created_at__lte=now - HEALTH_CHECK_REDRIVE_AFTER,
            )
            .order_by("created_at")
            .values_list("pk", "organization_id")[:limit]
        )
    ran = 0
    for verification_id, org_id in due:
        with org_scope(org_id):
            verification = Verification.objects.filter(pk=verification_id).first()
            if verification and verification_run_health_check(verification=verification):
                ran += 1
    return ran


HEALTH_TIMEOUT_SECONDS = 5
EVIDENCE_BYTES = 2000


@transaction.atomic
def verification_run_health_check(*, verification: Verification) -> Verification:
    """GET the URL and store the result as evidence. Runs once: a repeated call does nothing."""
    import time
    import urllib.error
    import urllib.request

    verification = (
        Verification.objects.select_for_update(skip_locked=True)
        .filter(pk=verification.pk, status=Verification.Status.PENDING)
        .first()
    )
    if verification is None:
        return None
    started = time.monotonic()
    request = urllib.request.Request(  # noqa: S310 — admins configure http(s) URLs only
        verification.url, headers={"User-Agent": "Vigil health check"}
    )
    try:
        with urllib.request.urlopen(request, timeout=HEALTH_TIMEOUT_SECONDS) as response:  # noqa: S310
            verification.http_status = response.status
            body = response.read(EVIDENCE_BYTES)
    except urllib.error.HTTPError as error:
        verification.http_status = error.code
        body = error.read(EVIDENCE_BYTES) if error.fp else b""
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        verification.error = str(getattr(error, "reason", error))[:300]
        body = b""
    verification.response_ms = int((time.monotonic() - started) * 1000)
    verification.evidence = body.decode("utf-8", "replace")
    passed = verification.http_status is not None and 200 <= verification.http_status < 300
    verification.status = Verification.Status.PASSED if passed else Verification.Status.FAILED
    verification.completed_at = timezone.now()
    verification.save()
    outcome = f"HTTP {verification.http_status}" if verification.http_status else verification.error
    record(
        verification.incident,
        kind=TimelineEvent.Kind.VERIFICATION,
        actor=None,
        message=(
            f"Health check {'passed' if passed else 'failed'}: {outcome} "
            f"in {verification.response_ms} ms from {verification.url}"
        ),
        verification_id=verification.pk,
        passed=passed,
    )
    return verification


# — ownership ————————————————————————————————————————————————————————————————————————


def _team_member(team: Team | None, user: User) -> bool:
    return team is not None and team.members.filter(pk=user.pk).exists()


def _is_manager(organization, user) -> bool:
    return role_of(organization, user) in (Role.MANAGER, Role.ADMIN)


@transaction.atomic
def ownership_request_create(
    *, incident: Incident, actor: User, kind: str, to_team: Team, reason: str = ""
) -> OwnershipRequest:
    """A team asks to take the incident over, or the owning team offers to hand it over."""
    organization = incident.organization
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    _check_same_org(organization, to_team=to_team)
    incident = _lock(incident, None)
    if kind not in OwnershipRequest.Kind.values:
        raise ValidationError({"kind": "Choose take or hand over."})
    if to_team is None or to_team.pk == incident.owning_team_id:
        raise ValidationError({"to_team": "That team owns the incident already."})
    if kind == OwnershipRequest.Kind.TAKE and not (
        _team_member(to_team, actor) or _is_manager(organization, actor)
    ):
        raise PermissionDenied(f"Only members of {to_team} (or a manager) can ask to take it.")
    if kind == OwnershipRequest.Kind.HANDOVER and not (
        _team_member(incident.owning_team, actor) or _is_manager(organization, actor)
    ):
        raise PermissionDenied("Only the owning team (or a manager) can hand the incident over.")
    if OwnershipRequest.objects.filter(incident=incident, status="pending").exists():
        raise ValidationError("An ownership request is already waiting for an answer.")
    settings_row, _ = OrgSettings.objects.get_or_create(organization=organization)
    now = timezone.now()
    request = OwnershipRequest.objects.create(
        organization=organization,
        incident=incident,
        kind=kind,
        from_team=incident.owning_team,
        to_team=to_team,
        requested_by=actor,
        reason=reason.strip(),
        escalate_at=now + timedelta(minutes=settings_row.ownership_escalation_minutes),
    )
    verb = "asks to take ownership for" if kind == "take" else "offers to hand ownership to"
    record(
        incident,
        kind=TimelineEvent.Kind.OWNERSHIP,
        actor=actor,
        message=f"{actor} {verb} {to_team}" + (f": {reason.strip()}" if reason.strip() else ""),
        request_id=request.pk,
    )
    if incident.owning_team is None:  # nobody to ask: take it at once
        return ownership_request_decide(request=request, actor=None, accept=True, note="no owner")
    return request


@transaction.atomic
def ownership_request_decide(
    *, request: OwnershipRequest, actor: User | None, accept: bool, note: str = ""
) -> OwnershipRequest:
    """The deciding team (or a manager) accepts or declines. Accepting moves ownership and keeps
    the previous owner involved."""
    request = OwnershipRequest.objects.select_for_update().get(pk=request.pk)
    incident = request.incident
    organization = incident.organization
    _require(organization, actor, Capability.UPDATE_INCIDENTS)
    if request.status != OwnershipRequest.Status.PENDING:
        raise ValidationError("This request was answered already.")
    if actor is not None and not (
        _team_member(request.deciding_team, actor) or _is_manager(organization, actor)
    ):
        raise PermissionDenied(f"Only {request.deciding_team} (or a manager) can answer.")
    incident = _lock(incident, None)
    request.status = (
        OwnershipRequest.Status.ACCEPTED if accept else OwnershipRequest.Status.DECLINED
    )
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = note.strip()
    request.save()
    if accept:
        previous = incident.owning_team
        incident.owning_team = request.to_team
        incident.version += 1
        incident.save()
        if previous is not None:
            incident.involved_teams.add(previous)
        incident.involved_teams.add(request.to_team)
        message = f"Ownership moved from {previous or 'nobody'} to {request.to_team}"
    else:
        message = f"{actor} declined the ownership request of {request.to_team}"
    record(
        incident,
        kind=TimelineEvent.Kind.OWNERSHIP,
        actor=actor,
        message=message + (f": {note.strip()}" if note.strip() else ""),
        request_id=request.pk,
        accepted=accept,
    )
    return request


def ownership_escalate_due(*, organization: Organization, now=None) -> int:
    """Hand unanswered ownership requests to the organisation's managers: each due request is
    claimed with SKIP LOCKED and marked in the same transaction, so it escalates exactly once."""
    from django.core.mail import send_mail

    now = now or timezone.now()
    escalated = 0
    while True:
        with transaction.atomic():
            request = (
                OwnershipRequest.objects.select_for_update(skip_locked=True)
                .filter(
                    organization=organization,
                    status=OwnershipRequest.Status.PENDING,
                    escalated_at__isnull=True,
                    escalate_at__lte=now,
                )
                .select_related("incident", "to_team")
                .order_by("escalate_at")
                .first()
            )
            if request is None:
                return escalated
            request.escalated_at = now
            request.save(update_fields=["escalated_at"])
            managers = list(
                Membership.objects.filter(
                    organization=organization, role__in=[Role.MANAGER, Role.ADMIN]
                ).select_related("user")
            )
            record(
                request.incident,
                kind=TimelineEvent.Kind.OWNERSHIP,
                actor=None,
                message=(
                    f"Ownership request for {request.to_team} unanswered since "
                    f"{timezone.localtime(request.created_at):%H:%M}; escalated to the managers"
                ),
                request_id=request.pk,
            )
            emails = [m.user.email for m in managers]
            subject = f"{request.incident.key} · ownership request needs a decision"
            body = (
                f"{request.get_kind_display()} → {request.to_team} on {request.incident} has "
                f"not been answered. Decide on the incident page."
            )
            transaction.on_commit(lambda s=subject, b=body, e=emails: send_mail(s, b, None, e))
            escalated += 1


# — restricted access —————————————————————————————————————————————————————————————————


def _require_access_manager(incident: Incident, actor: User) -> None:
    role = role_of(incident.organization, actor)
    if role != Role.ADMIN and incident.commander_id != actor.pk:
        raise PermissionDenied("Only org admins and the incident commander manage access.")


@transaction.atomic
def incident_grant_access(*, incident: Incident, actor: User, user: User) -> None:
    _require_access_manager(incident, actor)
    _check_member(incident.organization, "user", user)
    _grant_view(incident, user, actor, f"granted by {actor}")


@transaction.atomic
def incident_revoke_access(*, incident: Incident, actor: User, user: User) -> None:
    _require_access_manager(incident, actor)
    if not user.has_perm(VIEW_PERM, incident):
        return
    remove_perm("view_incident", user, incident)
    record(
        incident,
        kind=TimelineEvent.Kind.ACCESS,
        actor=actor,
        message=f"Access of {user} revoked by {actor}",
        user_id=user.pk,
    )


@transaction.atomic
def incident_set_restricted(*, incident: Incident, actor: User, is_restricted: bool) -> Incident:
    _require_access_manager(incident, actor)
    incident = _lock(incident, None)
    if incident.is_restricted == is_restricted:
        return incident
    incident.is_restricted = is_restricted
    incident.version += 1
    incident.save()
    if is_restricted:
        _grant_view(incident, incident.reporter, actor, "reporter")
        _grant_view(incident, incident.commander, actor, "commander")
    record(
        incident,
        kind=TimelineEvent.Kind.ACCESS,
        actor=actor,
        message="Restricted: only people granted access (and admins) can see it"
        if is_restricted
        else "No longer restricted: every member can see it",
    )
    return incident


# — SLA clocks ———————————————————————————————————————————————————————————————————————


@transaction.atomic
def sla_pause(*, incident: Incident, actor: User, timer_id: int, reason: str):
    """Stop one running clock while the incident waits on a customer or a vendor."""
    from incidents.models import SlaTimer

    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    timer = SlaTimer.objects.select_for_update().filter(pk=timer_id, incident=incident).first()
    if timer is None:
        raise ValidationError("No such SLA clock on this incident.")
    return sla.pause(timer, actor=actor, reason=reason)


@transaction.atomic
def sla_resume(*, incident: Incident, actor: User, timer_id: int):
    from incidents.models import SlaTimer

    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    timer = SlaTimer.objects.select_for_update().filter(pk=timer_id, incident=incident).first()
    if timer is None or not timer.paused_at:
        raise ValidationError("This SLA clock is not paused.")
    return sla.resume(timer, actor=actor)
