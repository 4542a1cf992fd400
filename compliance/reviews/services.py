"""Every write of an access review: starting a campaign (the snapshot and its reviewers),
certifying and revoking lines, signing the campaign off, and the organisation's policy.

A revocation takes effect in the same transaction as the decision: the membership is removed
or its role lowered, the restricted-incident grant is removed (with the incident's timeline
entry, as when an incident's commander removes it). The organisation middleware and the
incident visibility rule read those rows on every request, so the person loses the access at
their next request."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import remove_perm

from compliance.reviews.models import Campaign, ReviewLine, ReviewPolicy
from incidents import notify
from incidents.models import (
    Incident,
    IncidentGroupObjectPermission,
    IncidentUserObjectPermission,
    TimelineEvent,
)
from incidents.services import record
from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Capability, Role, can, capabilities_of
from tenancy.scoping import org_scope

REVIEWER_ROLES = (Role.ADMIN, Role.COMPLIANCE)
# pg_advisory_xact_lock(namespace, org id): one campaign start per organisation at a time.
LOCK_NAMESPACE = 0x5256


class CampaignAlreadyOpen(ValidationError):
    """A campaign is still open: the next one starts after it is signed off."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        super().__init__(
            f"An access review is already open (started {campaign.started_at:%Y-%m-%d}): "
            "finish and sign it off before starting another."
        )


# — policy and dates ———————————————————————————————————————————————————————————————————


def policy_for(organization_id: int) -> ReviewPolicy:
    """The organisation's policy, or the defaults (unsaved) when it has none."""
    with org_scope(organization_id):
        policy = ReviewPolicy.objects.filter(organization_id=organization_id).first()
    return policy or ReviewPolicy(organization_id=organization_id)


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (clamped to the month's last day)."""
    years, month_index = divmod(day.month - 1 - months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _local_day(organization: Organization, moment: datetime) -> date:
    return timezone.localtime(moment, organization.tzinfo).date()


def _require(organization: Organization, actor: User, capability: Capability) -> str:
    role = (
        Membership.objects.with_scopes_disabled()  # the actor's role, in this org only
        .filter(organization=organization, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if not can(role, capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")
    return role


def campaign_path(campaign: Campaign) -> str:
    return reverse(
        "compliance_reviews:campaign_detail",
        kwargs={"org_slug": campaign.organization.slug, "pk": campaign.pk},
    )


# — the snapshot and its reviewers —————————————————————————————————————————————————————


def snapshot(organization: Organization) -> list[ReviewLine]:
    """Unsaved lines for every member's role and every grant on a restricted incident of
    `organization`, as they stand now. Call inside the organisation's scope."""
    lines = [
        ReviewLine(
            organization=organization,
            kind=ReviewLine.Kind.MEMBERSHIP,
            user=membership.user,
            subject=membership.user.email,
            role=membership.role,
        )
        for membership in Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__email")
    ]
    # The grant tables are not tenant-owned: they reach the organisation through the incident.
    restricted = {
        "content_object__organization": organization,
        "content_object__is_restricted": True,
    }
    lines += [
        ReviewLine(
            organization=organization,
            kind=ReviewLine.Kind.GRANT,
            user=grant.user,
            subject=grant.user.email,
            incident_id=grant.content_object_id,
            incident_key=grant.content_object.key,
            permission=grant.permission.codename,
        )
        for grant in IncidentUserObjectPermission.objects.filter(**restricted)
        .select_related("user", "content_object", "permission")
        .order_by("content_object__number", "user__email")
    ]
    lines += [
        ReviewLine(
            organization=organization,
            kind=ReviewLine.Kind.GROUP_GRANT,
            group=grant.group,
            subject=f"group {grant.group.name}",
            incident_id=grant.content_object_id,
            incident_key=grant.content_object.key,
            permission=grant.permission.codename,
        )
        for grant in IncidentGroupObjectPermission.objects.filter(**restricted)
        .select_related("group", "content_object", "permission")
        .order_by("content_object__number", "group__name")
    ]
    return lines


def eligible_reviewers(organization: Organization) -> list[User]:
    """The organisation's admins and compliance staff with an active account."""
    return [
        membership.user
        for membership in Membership.objects.filter(
            organization=organization, role__in=REVIEWER_ROLES, user__is_active=True
        )
        .select_related("user")
        .order_by("user__email")
    ]


def _conflicted(line: ReviewLine, group_members: dict[int, set[int]]) -> set[int]:
    """The users who may not review `line`: the person it is about, or the group's members."""
    if line.group_id is not None:
        return group_members.get(line.group_id, set())
    return {line.user_id}


def assign_reviewers(lines: list[ReviewLine], reviewers: list[User]) -> None:
    """Give each line the least-loaded reviewer who is not its subject. A line nobody else
    can review keeps no reviewer: it is flagged on the campaign page for an admin."""
    group_ids = {line.group_id for line in lines if line.group_id is not None}
    group_members: dict[int, set[int]] = {}
    for group_id, user_id in User.groups.through.objects.filter(group_id__in=group_ids).values_list(
        "group_id", "user_id"
    ):
        group_members.setdefault(group_id, set()).add(user_id)
    load = {reviewer.pk: 0 for reviewer in reviewers}
    for line in lines:
        excluded = _conflicted(line, group_members)
        candidates = [reviewer for reviewer in reviewers if reviewer.pk not in excluded]
        if not candidates:
            line.reviewer = None
            continue
        chosen = min(candidates, key=lambda reviewer: (load[reviewer.pk], reviewer.email))
        line.reviewer = chosen
        load[chosen.pk] += 1


# — starting a campaign —————————————————————————————————————————————————————————————————


def _lock_organization(organization_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, organization_id])


def is_due(organization: Organization, *, now: datetime) -> bool:
    """Whether the organisation's last campaign is at least its period old (or it never had
    one). Call inside the organisation's scope."""
    last = Campaign.objects.filter(organization=organization).order_by("-started_at").first()
    if last is None:
        return True
    period = policy_for(organization.pk).period_months
    return _local_day(organization, last.started_at) <= months_before(
        _local_day(organization, now), period
    )


def campaign_start(
    *,
    organization: Organization,
    actor: User | None,
    now: datetime | None = None,
    only_if_due: bool = False,
) -> Campaign | None:
    """Start an access review: snapshot every role and restricted-incident grant, assign
    reviewers, set the due date and tell the reviewers. `actor` None means the schedule,
    which passes `only_if_due` (returns None when it is not due).

    Concurrent starts queue on a per-organisation advisory lock, and a partial unique index
    allows one open campaign per organisation: two starts at once make one campaign."""
    now = now or timezone.now()
    if actor is not None:
        _require(organization, actor, Capability.MANAGE_COMPLIANCE)
    with org_scope(organization), transaction.atomic():
        _lock_organization(organization.pk)
        if only_if_due and not is_due(organization, now=now):
            return None
        current = Campaign.objects.filter(
            organization=organization, status=Campaign.Status.OPEN
        ).first()
        if current is not None:
            raise CampaignAlreadyOpen(current)
        policy = policy_for(organization.pk)
        today = _local_day(organization, now)
        due_at = now + timedelta(days=policy.due_days)
        try:
            with transaction.atomic():
                campaign = Campaign.objects.create(
                    organization=organization,
                    trigger=Campaign.Trigger.MANUAL if actor else Campaign.Trigger.SCHEDULE,
                    period_start=months_before(today, policy.period_months),
                    period_end=today,
                    started_at=now,
                    started_by=actor,
                    due_at=due_at,
                    remind_at=due_at - timedelta(days=policy.remind_days_before),
                )
        except IntegrityError:  # the advisory lock makes this unreachable; the index is the net
            raise CampaignAlreadyOpen(
                Campaign.objects.get(organization=organization, status=Campaign.Status.OPEN)
            ) from None
        lines = snapshot(organization)
        for line in lines:
            line.campaign = campaign
        reviewers = eligible_reviewers(organization)
        assign_reviewers(lines, reviewers)
        ReviewLine.objects.bulk_create(lines, batch_size=1000)
        _announce(campaign, lines, reviewers, now)
    return campaign


def _announce(campaign: Campaign, lines, reviewers, now) -> None:
    organization = campaign.organization
    due = timezone.localtime(campaign.due_at, organization.tzinfo).strftime("%Y-%m-%d %H:%M %Z")
    assigned = {line.reviewer_id for line in lines if line.reviewer_id}
    flagged = sum(1 for line in lines if line.reviewer_id is None)
    body = (
        f"A new access review of {organization.name} has started with {len(lines)} lines "
        f"(roles and restricted-incident grants). Certify or revoke the lines assigned to you "
        f"by {due}."
    )
    if flagged:
        body += f" {flagged} lines have no possible reviewer and need an admin."
    notify.notify_users(
        organization=organization,
        users=[reviewer for reviewer in reviewers if reviewer.pk in assigned or flagged],
        kind="access_review_started",
        title=f"Access review started · due {due}",
        body=body,
        url=campaign_path(campaign),
        key=f"access_review:{campaign.pk}:started",
        now=now,
    )


def start_due_campaigns(*, now: datetime | None = None) -> int:
    """Start a campaign for each organisation whose last one is at least its period old.
    Safe to run twice at once: each start re-checks under the organisation's lock."""
    now = now or timezone.now()
    started = 0
    for organization in Organization.objects.order_by("pk"):
        with org_scope(organization):
            due = is_due(organization, now=now)
        if not due:
            continue
        try:
            if campaign_start(organization=organization, actor=None, now=now, only_if_due=True):
                started += 1
        except CampaignAlreadyOpen:
            continue  # the last one is not signed off yet: the overdue escalation says so
    return started


# — the current state of a line's access ————————————————————————————————————————————————


@dataclass(frozen=True)
class Current:
    """A line's access as it stands now: whether it still exists and how it changed."""

    exists: bool
    role: str = ""
    change: str = ""


def current_access(line: ReviewLine) -> Current:
    """Compare the line's snapshot with the live rows. Call inside the organisation's scope."""
    if line.kind == ReviewLine.Kind.MEMBERSHIP:
        role = (
            Membership.objects.filter(organization_id=line.organization_id, user_id=line.user_id)
            .values_list("role", flat=True)
            .first()
        )
        return describe_membership(line, role)
    grants = (
        IncidentUserObjectPermission.objects.filter(user_id=line.user_id)
        if line.kind == ReviewLine.Kind.GRANT
        else IncidentGroupObjectPermission.objects.filter(group_id=line.group_id)
    )
    exists = (
        line.incident_id is not None
        and grants.filter(
            content_object_id=line.incident_id, permission__codename=line.permission
        ).exists()
    )
    restricted = (
        Incident.objects.filter(pk=line.incident_id).values_list("is_restricted", flat=True).first()
    )
    return describe_grant(exists, restricted)


def describe_membership(line: ReviewLine, role: str | None) -> Current:
    if role is None:
        return Current(exists=False, change="No longer a member")
    if role != line.role:
        return Current(exists=True, role=role, change=f"Role is now {Role(role).label.lower()}")
    return Current(exists=True, role=role)


def describe_grant(exists: bool, restricted: bool | None) -> Current:
    if not exists:
        return Current(exists=False, change="Grant already removed")
    if not restricted:
        return Current(exists=True, change="Incident no longer restricted")
    return Current(exists=True)


# — decisions ——————————————————————————————————————————————————————————————————————————


def _locked_line(line: ReviewLine) -> ReviewLine:
    return (
        ReviewLine.objects.select_for_update(of=("self",))
        .select_related("campaign", "organization", "user", "group", "reviewer")
        .get(pk=line.pk, organization_id=line.organization_id)
    )


def is_own_line(line: ReviewLine, user: User) -> bool:
    if line.group_id is not None:
        return user.groups.filter(pk=line.group_id).exists()
    return line.user_id == user.pk


def check_may_decide(line: ReviewLine, actor: User, role: str) -> None:
    """The assigned reviewer decides; an admin may take over any line (a flagged one
    included). Nobody decides a line about their own access."""
    if is_own_line(line, actor):
        raise PermissionDenied("Nobody reviews their own access: another reviewer decides this.")
    if line.reviewer_id != actor.pk and role != Role.ADMIN:
        owner = line.reviewer.display_name if line.reviewer else "an admin"
        raise PermissionDenied(f"This line is for {owner} to review.")


def _decidable(line: ReviewLine, actor: User) -> ReviewLine:
    role = _require(line.organization, actor, Capability.MANAGE_COMPLIANCE)
    locked = _locked_line(line)
    if not locked.campaign.is_open:
        raise ValidationError("This access review is signed off: its decisions are final.")
    if locked.is_decided:
        who = locked.decided_by.display_name if locked.decided_by else "someone"
        raise ValidationError(
            f"Already {locked.get_decision_display().lower()} by {who} "
            f"on {locked.decided_at:%Y-%m-%d %H:%M}."
        )
    check_may_decide(locked, actor, role)
    return locked


def _decide(line: ReviewLine, actor: User, decision: str, now: datetime, **fields) -> None:
    line.decision = decision
    line.decided_at = now
    line.decided_by = actor
    for name, value in fields.items():
        setattr(line, name, value)
    line.save()


def line_certify(*, line: ReviewLine, actor: User, now: datetime | None = None) -> ReviewLine:
    """Certify one line: the access is right as it is. A line whose access changed since the
    snapshot says so in its outcome."""
    now = now or timezone.now()
    with org_scope(line.organization_id), transaction.atomic():
        line = _decidable(line, actor)
        current = current_access(line)
        outcome = (
            f"Certified; changed since the snapshot: {current.change}." if current.change else ""
        )
        _decide(line, actor, ReviewLine.Decision.CERTIFIED, now, outcome=outcome)
    return line


def lines_certify(
    *, campaign: Campaign, actor: User, line_ids, now: datetime | None = None
) -> tuple[int, list[str]]:
    """Certify each selected line the actor may decide; return how many, and why the others
    were skipped (one sentence per line)."""
    now = now or timezone.now()
    _require(campaign.organization, actor, Capability.MANAGE_COMPLIANCE)
    certified, skipped = 0, []
    with org_scope(campaign.organization_id), transaction.atomic():
        lines = ReviewLine.objects.filter(campaign=campaign, pk__in=list(line_ids)).order_by("pk")
        for line in lines:
            try:
                with transaction.atomic():
                    line_certify(line=line, actor=actor, now=now)
                certified += 1
            except (PermissionDenied, ValidationError) as error:
                message = error.messages[0] if isinstance(error, ValidationError) else str(error)
                skipped.append(f"{line}: {message}")
    return certified, skipped


def lower_roles(role: str) -> list[str]:
    """The roles whose capabilities are a strict subset of `role`'s."""
    held = capabilities_of(role)
    return [other for other in Role.values if capabilities_of(other) < held]


def _check_last_admin(organization_id: int, membership: Membership) -> None:
    if membership.role != Role.ADMIN:
        return
    # Lock every admin membership first: two revocations at once (A revokes B, B revokes A)
    # must not both see two admins and leave none.
    admins = len(
        Membership.objects.select_for_update()
        .filter(organization_id=organization_id, role=Role.ADMIN)
        .order_by("pk")
    )
    if admins <= 1:
        raise ValidationError(
            "This is the organisation's only admin: make someone else admin first."
        )


def _revoke_membership(line, *, action, new_role, expected_role) -> str:
    membership = (
        Membership.objects.select_for_update()
        .filter(organization_id=line.organization_id, user_id=line.user_id)
        .first()
    )
    if membership is None:
        return "Already no longer a member before this decision; nothing changed."
    if membership.role != line.role and membership.role != expected_role:
        raise ValidationError(
            f"{line.subject}'s role changed since the snapshot (was {line.get_role_display()}, "
            f"now {membership.get_role_display()}). Look at the current access and decide again."
        )
    _check_last_admin(line.organization_id, membership)
    if action == ReviewLine.Action.LOWER:
        if new_role not in lower_roles(membership.role):
            raise ValidationError(
                {"new_role": f"Choose a role below {membership.get_role_display()}."}
            )
        previous = membership.get_role_display()
        membership.role = new_role
        membership.save(update_fields=["role"])
        return f"Role lowered from {previous} to {membership.get_role_display()}."
    for team in Team.objects.filter(organization_id=line.organization_id, members=line.user):
        team.members.remove(line.user)
    membership.delete()
    return "Removed from the organisation."


def _revoke_grant(line, actor: User) -> str:
    incident = Incident.objects.filter(pk=line.incident_id).first() if line.incident_id else None
    if incident is None:
        return "The incident no longer exists; nothing changed."
    holder = line.user if line.kind == ReviewLine.Kind.GRANT else line.group
    grants = (
        IncidentUserObjectPermission.objects.filter(user=holder)
        if isinstance(holder, User)
        else IncidentGroupObjectPermission.objects.filter(group=holder)
    )
    if (
        holder is None
        or not grants.filter(content_object=incident, permission__codename=line.permission).exists()
    ):
        return f"The grant on {incident.key} was already removed; nothing changed."
    remove_perm(line.permission, holder, incident)
    name = holder.name if isinstance(holder, Group) else str(holder)
    record(
        incident,
        kind=TimelineEvent.Kind.ACCESS,
        actor=actor,
        message=f"Access of {name} revoked by {actor} (access review)",
        **({"user_id": holder.pk} if isinstance(holder, User) else {"group_id": holder.pk}),
    )
    return f"Access to {incident.key} removed."


def line_revoke(
    *,
    line: ReviewLine,
    actor: User,
    reason: str,
    action: str = ReviewLine.Action.REMOVE,
    new_role: str = "",
    expected_role: str = "",
    now: datetime | None = None,
) -> ReviewLine:
    """Revoke one line's access, at once: remove the member or lower their role, or remove
    the restricted-incident grant. A reason is required. When a membership's role changed
    since the snapshot, the reviewer must have seen the current role (`expected_role`) —
    nothing is revoked twice or on a stale view."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the access is revoked."})
    if action not in ReviewLine.Action.values:
        raise ValidationError({"action": "Choose what to revoke."})
    with org_scope(line.organization_id), transaction.atomic():
        line = _decidable(line, actor)
        if line.kind == ReviewLine.Kind.MEMBERSHIP:
            outcome = _revoke_membership(
                line, action=action, new_role=new_role, expected_role=expected_role
            )
        else:
            if action != ReviewLine.Action.REMOVE:
                raise ValidationError({"action": "A grant can only be removed."})
            new_role = ""
            outcome = _revoke_grant(line, actor)
        _decide(
            line,
            actor,
            ReviewLine.Decision.REVOKED,
            now,
            action=action,
            new_role=new_role if action == ReviewLine.Action.LOWER else "",
            reason=reason,
            outcome=outcome,
        )
    return line


def line_reassign(*, line: ReviewLine, actor: User, reviewer: User) -> ReviewLine:
    """Hand a pending line to another reviewer (admins only): never to the line's subject."""
    role = _require(line.organization, actor, Capability.MANAGE_COMPLIANCE)
    if role != Role.ADMIN:
        raise PermissionDenied("Only admins reassign lines.")
    with org_scope(line.organization_id), transaction.atomic():
        line = _locked_line(line)
        if not line.campaign.is_open or line.is_decided:
            raise ValidationError("Only a pending line of an open review can be reassigned.")
        reviewer_role = (
            Membership.objects.filter(organization_id=line.organization_id, user=reviewer)
            .values_list("role", flat=True)
            .first()
        )
        if reviewer_role not in REVIEWER_ROLES:
            raise ValidationError({"reviewer": "Choose an admin or a compliance member."})
        if is_own_line(line, reviewer):
            raise ValidationError({"reviewer": "Nobody reviews their own access."})
        line.reviewer = reviewer
        line.save(update_fields=["reviewer"])
    return line


# — sign-off and policy ————————————————————————————————————————————————————————————————


def campaign_sign_off(*, campaign: Campaign, actor: User, now: datetime | None = None) -> Campaign:
    """Sign the campaign off once every line is decided: the signer, the time and the content
    hash of the decisions are recorded, and the decisions become final."""
    from compliance.reviews import export

    now = now or timezone.now()
    _require(campaign.organization, actor, Capability.MANAGE_COMPLIANCE)
    with org_scope(campaign.organization_id), transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=campaign.pk)
        )
        if not campaign.is_open:
            raise ValidationError("This access review is already signed off.")
        pending = ReviewLine.objects.filter(
            campaign=campaign, decision=ReviewLine.Decision.PENDING
        ).count()
        if pending:
            raise ValidationError(
                f"{pending} line{'s are' if pending != 1 else ' is'} still pending: every line "
                "must be certified or revoked before the sign-off."
            )
        campaign.status = Campaign.Status.SIGNED_OFF
        campaign.signed_off_at = now
        campaign.signed_off_by = actor
        campaign.signed_hash = export.content_hash_of(campaign)
        campaign.save()
    return campaign


def policy_save(
    *,
    organization: Organization,
    actor: User,
    period_months: int,
    due_days: int,
    remind_days_before: int,
) -> ReviewPolicy:
    """Set how often reviews start and how long reviewers have (new campaigns only)."""
    _require(organization, actor, Capability.MANAGE_COMPLIANCE)
    if remind_days_before >= due_days:
        raise ValidationError(
            {"remind_days_before": "Remind before the due date: fewer days than reviewers have."}
        )
    with org_scope(organization), transaction.atomic():
        policy = ReviewPolicy.objects.select_for_update().filter(organization=organization).first()
        policy = policy or ReviewPolicy(organization=organization)
        policy.period_months = period_months
        policy.due_days = due_days
        policy.remind_days_before = remind_days_before
        policy.full_clean()
        policy.save()
    return policy
