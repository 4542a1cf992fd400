"""Which incidents need a post-mortem, and why: the organisation's policy, the decision recorded
on each incident, a person's request, and the lifecycle requirement that closing such an
incident needs a published post-mortem.

When the decision is taken (see docs/postmortems.md):
- on declaration and when the severity, category, service or custom fields change — by
  receivers of `incidents.signals.incident_created` / `incident_changed`, after commit: the
  decision is only shown there, and a failure must never undo the declaration;
- on resolve — by a `registry.transition_hooks` hook *inside* the resolve transaction, so a
  committed resolve always has its decision and, when one is needed, its post-mortem;
- on a person's request ("Request a post-mortem"), which sticks: the policy never clears it.
"""

import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.lifecycle import Missing, Status
from incidents.models import Incident, TimelineEvent
from incidents.services import _require, record, role_of
from postmortems.models import PostMortem, PostMortemDecision, PostMortemPolicy
from taxonomy.models import CustomFieldDefinition
from tenancy.models import Organization, User
from tenancy.roles import Capability, Role
from tenancy.scoping import org_scope

logger = logging.getLogger(__name__)

TIMELINE_KIND = TimelineEvent.Kind.POSTMORTEM  # post-mortem steps on the incident timeline
REASON_CHARS = 300
# Policy fields with the bounds the settings page accepts.
LIMITS = {
    "max_severity_level": (0, 10),
    "recurrence_count": (0, 100),
    "recurrence_days": (1, 365),
    "review_due_hours": (1, 24 * 30),
    "remind_before_hours": (0, 24 * 7),
    "escalate_after_hours": (0, 24 * 14),
    "approvals_required": (0, 10),
    "action_item_remind_days": (0, 60),
}


def policy_for(organization: Organization | int) -> PostMortemPolicy:
    """The organisation's policy, or the defaults (unsaved) when it has none yet."""
    org_id = getattr(organization, "pk", organization)
    with org_scope(org_id):
        policy = PostMortemPolicy.objects.filter(organization_id=org_id).first()
    return policy or PostMortemPolicy(organization_id=org_id)


# Answers that say "nothing to report": a regulatory field holding one does not count as filled.
NOTHING = {"none", "no", "n/a", "na", "-", "—", "false", "0"}


def _filled(value) -> bool:
    """Whether a regulatory custom field's value reports something (not empty, not "no")."""
    if value is None or value is False or value in ("", [], {}):
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    return not (isinstance(value, str) and value.strip().lower() in NOTHING)


def decide(incident: Incident, *, policy: PostMortemPolicy | None = None) -> tuple[bool, str]:
    """Whether `incident` needs a post-mortem by the policy, and why (every rule that applies,
    or why none does). Reads only."""
    policy = policy or policy_for(incident.organization_id)
    reasons = []
    severity = incident.severity
    if policy.max_severity_level and severity.level <= policy.max_severity_level:
        reasons.append(
            f"{severity.name} is at or above the policy's threshold "
            f"(SEV-{policy.max_severity_level} or stronger)"
        )
    if policy.recurrence_count and incident.primary_service_id and incident.category_id:
        since = incident.reported_at - timedelta(days=policy.recurrence_days)
        with org_scope(incident.organization_id):
            count = (
                Incident.objects.filter(
                    organization_id=incident.organization_id,
                    primary_service_id=incident.primary_service_id,
                    category_id=incident.category_id,
                    reported_at__gte=since,
                    reported_at__lte=incident.reported_at,
                )
                .exclude(status__in=[Status.DISMISSED, Status.DUPLICATE])
                .exclude(pk=incident.pk)
                .count()
            ) + 1
        if count >= policy.recurrence_count:
            reasons.append(
                f"{count} incidents on {incident.primary_service} in {incident.category} within "
                f"{policy.recurrence_days} days (the policy asks from {policy.recurrence_count})"
            )
    if policy.on_regulatory:
        with org_scope(incident.organization_id):
            definitions = CustomFieldDefinition.objects.filter(
                organization_id=incident.organization_id, is_regulatory=True
            )
            values = incident.custom_fields or {}
            filled = [d.label for d in definitions if _filled(values.get(d.key))]
        if filled:
            reasons.append("regulatory field " + ", ".join(f"“{label}”" for label in filled))
    if reasons:
        return True, ("Required: " + "; ".join(reasons) + ".")[:REASON_CHARS]
    return False, "Not required by the policy (severity, recurrence, regulatory fields)."


def decision_of(incident: Incident) -> PostMortemDecision | None:
    with org_scope(incident.organization_id):
        return PostMortemDecision.objects.filter(incident_id=incident.pk).first()


def is_required(incident: Incident) -> bool:
    """The recorded decision; the policy's answer when none is recorded yet."""
    decision = decision_of(incident)
    if decision is not None:
        return decision.required
    return decide(incident)[0]


def record_decision(incident: Incident, *, now=None) -> PostMortemDecision:
    """Take (or retake) the policy's decision and store it. A person's request is kept: the
    policy never turns a requested post-mortem into "not required"."""
    now = now or timezone.now()
    with org_scope(incident.organization_id), transaction.atomic():
        decision = (
            PostMortemDecision.objects.select_for_update().filter(incident_id=incident.pk).first()
        )
        if decision is not None and decision.source == PostMortemDecision.Source.MANUAL:
            return decision
        required, reason = decide(incident)
        if decision is None:
            decision = PostMortemDecision.objects.create(
                organization_id=incident.organization_id,
                incident=incident,
                required=required,
                reason=reason,
                decided_at=now,
            )
            if required:
                record(
                    incident,
                    kind=TIMELINE_KIND,
                    actor=None,
                    message=f"Post-mortem needed. {reason}",
                    required=True,
                )
            return decision
        if (decision.required, decision.reason) != (required, reason):
            flipped = decision.required != required
            decision.required, decision.reason, decision.decided_at = required, reason, now
            decision.save(update_fields=["required", "reason", "decided_at"])
            if flipped:
                record(
                    incident,
                    kind=TIMELINE_KIND,
                    actor=None,
                    message=(
                        "Post-mortem needed. " if required else "Post-mortem no longer needed. "
                    )
                    + reason,
                    required=required,
                )
        return decision


@transaction.atomic
def postmortem_request(*, incident: Incident, actor: User, reason: str, now=None):
    """A person asks for a post-mortem on an incident the policy did not pick (or confirms one
    it did). Sticks; if the incident is resolved already, the post-mortem starts now."""
    _require(incident.organization, actor, Capability.UPDATE_INCIDENTS)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why this incident needs a post-mortem."})
    if len(reason) > 250:
        raise ValidationError({"reason": "At most 250 characters."})
    if incident.status in (Status.DISMISSED, Status.DUPLICATE):
        raise ValidationError(
            f"A {incident.get_status_display().lower()} incident gets no post-mortem."
        )
    now = now or timezone.now()
    with org_scope(incident.organization_id):
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        text = f"Requested by {actor}: {reason}"[:REASON_CHARS]
        decision, created = PostMortemDecision.objects.select_for_update().get_or_create(
            organization_id=incident.organization_id,
            incident=incident,
            defaults={
                "required": True,
                "reason": text,
                "source": PostMortemDecision.Source.MANUAL,
                "requested_by": actor,
                "decided_at": now,
            },
        )
        if not created:
            decision.required = True
            decision.reason = text
            decision.source = PostMortemDecision.Source.MANUAL
            decision.requested_by = actor
            decision.decided_at = now
            decision.save()
        record(
            incident,
            kind=TIMELINE_KIND,
            actor=actor,
            message=f"Post-mortem requested: {reason}",
            required=True,
        )
        if incident.status in (Status.RESOLVED, Status.CLOSED):
            from postmortems.scheduling import schedule

            schedule(incident, now=now)
    return decision


# — policy settings ————————————————————————————————————————————————————————————————————


@transaction.atomic
def policy_save(*, organization: Organization, actor: User, values: dict) -> PostMortemPolicy:
    """Change the organisation's post-mortem policy (managers and admins)."""
    if role_of(organization, actor) not in (Role.MANAGER, Role.ADMIN):
        raise PermissionDenied("Only managers and admins may change the post-mortem policy.")
    errors = {}
    for field, (low, high) in LIMITS.items():
        if field not in values:
            continue
        value = values[field]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[field] = f"A whole number from {low} to {high}."
    unknown = set(values) - set(LIMITS) - {"on_regulatory"}
    if unknown:
        errors["__all__"] = f"Unknown settings: {', '.join(sorted(unknown))}."
    if "on_regulatory" in values and not isinstance(values["on_regulatory"], bool):
        errors["on_regulatory"] = "Yes or no."
    if errors:
        raise ValidationError(errors)
    with org_scope(organization):
        policy, _ = PostMortemPolicy.objects.select_for_update().get_or_create(
            organization=organization
        )
        for field, value in values.items():
            setattr(policy, field, value)
        if policy.remind_before_hours >= policy.review_due_hours:
            raise ValidationError(
                {"remind_before_hours": "Remind before the review is due, not before it starts."}
            )
        policy.save()
    return policy


# — hooks: signals after commit, the resolve transition, the close requirement ———————————


def _decide_after_commit(organization_id: int, incident_id: int, why: str) -> None:
    try:
        with org_scope(organization_id):
            incident = Incident.objects.filter(pk=incident_id).select_related("severity").first()
            if incident is not None:
                decision = record_decision(incident)
                # A resolved incident that now needs one gets it; a closed one is history
                # (a person can still request one).
                if decision.required and incident.status == Status.RESOLVED:
                    from postmortems.scheduling import schedule

                    schedule(incident)
    except Exception:  # never into the caller: its change is committed already
        logger.exception("post-mortem decision for incident %s (%s) failed", incident_id, why)


def on_incident_created(sender, *, organization_id, incident_id, **kwargs) -> None:
    _decide_after_commit(organization_id, incident_id, "declared")


DECIDING_FIELDS = {"severity", "category", "primary_service", "custom_fields"}


def on_incident_changed(sender, *, organization_id, incident_id, fields=(), **kwargs) -> None:
    if DECIDING_FIELDS & set(fields or ()):
        _decide_after_commit(organization_id, incident_id, "changed")


def on_transition(*, incident: Incident, previous: str, target: str) -> None:
    """Inside the transition's transaction: on resolve, decide and schedule the review."""
    if target != Status.RESOLVED:
        return
    with org_scope(incident.organization_id):
        decision = record_decision(incident, now=incident.resolved_at)
        if decision.required:
            from postmortems.scheduling import schedule

            schedule(incident, now=incident.resolved_at)


PUBLISHED_LABEL = "a published post-mortem"


def closing_requirement(*, incident: Incident, target: str) -> list[Missing]:
    """Closing an incident that needs a post-mortem needs it published (a revision in
    progress counts: a published version exists)."""
    if target != Status.CLOSED:
        return []
    if not is_required(incident):
        return []
    with org_scope(incident.organization_id):
        published = PostMortem.objects.filter(
            incident_id=incident.pk,
            status__in=[PostMortem.Status.PUBLISHED, PostMortem.Status.REVISING],
            published_at__isnull=False,
        ).exists()
    return [] if published else [Missing("postmortem_published", PUBLISHED_LABEL)]
