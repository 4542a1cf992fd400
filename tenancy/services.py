"""Every write to organisations, memberships, teams and invitations."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from tenancy.models import Invitation, Membership, Organization, Team, User
from tenancy.roles import Capability, Role, can
from tenancy.scoping import org_scope


def _require(actor_membership: Membership, capability: Capability) -> None:
    if not can(actor_membership.role, capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _admin_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.ADMIN).count()


@transaction.atomic
def invitation_create(
    *, organization: Organization, actor: Membership, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite `email` to join as `role`; e-mails a one-time link. An open invitation for the
    same address is replaced (the old link stops working). Returns the invitation and the
    raw token, which is never stored."""
    _require(actor, Capability.MANAGE_MEMBERS)
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles."})
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization}."})
    now = timezone.now()
    for open_invitation in Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    ):
        open_invitation.revoked_at = now
        open_invitation.save(update_fields=["revoked_at"])
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=_hash_token(token),
        invited_by=actor.user,
        expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    link = settings.SITE_URL + reverse("invitation_accept", kwargs={"token": token})
    body = render_to_string(
        "tenancy/email/invitation.txt",
        {"invitation": invitation, "link": link, "organization": organization},
    )
    transaction.on_commit(
        lambda: send_mail(
            f"You are invited to {organization.name} on Vigil",
            body,
            None,
            [email],
        )
    )
    return invitation, token


@transaction.atomic
def invitation_revoke(*, organization: Organization, actor: Membership, invitation: Invitation):
    _require(actor, Capability.MANAGE_MEMBERS)
    if invitation.organization_id != organization.pk:
        raise PermissionDenied
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_from_token(token: str) -> Invitation | None:
    """The open invitation a link's token stands for, or None (unknown, used, revoked or
    expired). Reads across organisations: the token is the credential."""
    with scopes_disabled():
        invitation = (
            Invitation.objects.select_related("organization")
            .filter(token_hash=_hash_token(token))
            .first()
        )
    if invitation is None or not invitation.is_open:
        return None
    return invitation


def invitation_accept(
    *, invitation: Invitation, user: User | None = None, full_name: str = "", password: str = ""
) -> Membership:
    """Turn an open invitation into a membership. With no `user`, a new account is created
    for the invited address with `password`. The link works once."""
    with org_scope(invitation.organization_id), transaction.atomic():
        return _invitation_accept(invitation, user, full_name, password)


def _invitation_accept(invitation, user, full_name, password) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise ValidationError("This invitation has already been used, revoked or has expired.")
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                "An account with this e-mail address exists: sign in to accept the invitation."
            )
        user = User.objects.create_user(
            email=invitation.email, password=password, full_name=full_name.strip()
        )
    elif user.email.lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                organization=invitation.organization, user=user, role=invitation.role
            )
    except IntegrityError:
        raise ValidationError(f"You are already a member of {invitation.organization}.") from None
    return membership


@transaction.atomic
def membership_change_role(
    *, organization: Organization, actor: Membership, membership: Membership, role: str
) -> Membership:
    """Give a member another role. The last admin cannot be demoted (nobody could undo it)."""
    _require(actor, Capability.MANAGE_MEMBERS)
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles."})
    membership = Membership.objects.select_for_update().get(
        pk=membership.pk, organization=organization
    )
    if membership.role == Role.ADMIN and role != Role.ADMIN and _admin_count(organization) <= 1:
        raise ValidationError(
            "This is the organisation's only admin: make someone else admin first."
        )
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(
    *, organization: Organization, actor: Membership, membership: Membership
) -> None:
    """Remove a member from the organisation and its teams. Their account and their history
    stay; the last admin cannot be removed."""
    _require(actor, Capability.MANAGE_MEMBERS)
    membership = Membership.objects.select_for_update().get(
        pk=membership.pk, organization=organization
    )
    if membership.role == Role.ADMIN and _admin_count(organization) <= 1:
        raise ValidationError(
            "This is the organisation's only admin: make someone else admin first."
        )
    for team in Team.objects.filter(organization=organization, members=membership.user):
        team.members.remove(membership.user)
    membership.delete()


def _check_team_members(organization: Organization, users) -> None:
    member_ids = set(
        Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    )
    strangers = [u for u in users if u.pk not in member_ids]
    if strangers:
        names = ", ".join(str(u) for u in strangers)
        raise ValidationError({"members": f"Not members of {organization}: {names}."})


@transaction.atomic
def team_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    description: str = "",
    members=(),
    team: Team | None = None,
) -> Team:
    """Create a team, or update `team`: name, description and the full member list."""
    _require(actor, Capability.MANAGE_TEAMS)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    clash = Team.objects.filter(organization=organization, name__iexact=name)
    if team is not None:
        clash = clash.exclude(pk=team.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a team called “{name}”."})
    members = list(members)
    _check_team_members(organization, members)
    if team is None:
        team = Team.objects.create(organization=organization, name=name, description=description)
    else:
        team.name = name
        team.description = description
        team.save(update_fields=["name", "description"])
    team.members.set(members)
    return team


@transaction.atomic
def team_delete(*, organization: Organization, actor: Membership, team: Team) -> None:
    _require(actor, Capability.MANAGE_TEAMS)
    team = Team.objects.get(pk=team.pk, organization=organization)
    try:
        with transaction.atomic():
            team.members.clear()
            team.delete()
    except ProtectedError as error:
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in error.protected_objects})
        raise ValidationError(
            f"“{team.name}” is still used by {', '.join(kinds)}: change those first."
        ) from None
