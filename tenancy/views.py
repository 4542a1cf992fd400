"""Organisation home, member and team administration, and accepting an invitation."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_scopes import scopes_disabled

from tenancy import selectors, services
from tenancy.access import org_view
from tenancy.forms import AcceptInvitationForm, InvitationForm, RoleForm, TeamForm
from tenancy.models import Invitation, Membership, Team, User
from tenancy.roles import Capability, Role


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _form_errors_from(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def home(request):
    """Send a signed-in user to the organisation they used last, or their first one."""
    with scopes_disabled():  # the user's own memberships, across orgs
        slugs = list(
            Membership.objects.filter(user=request.user)
            .order_by("organization__name")
            .values_list("organization__slug", flat=True)
        )
    if not slugs:
        return render(request, "tenancy/no_organization.html", status=200)
    last = request.session.get("last_org")
    return redirect("tenancy:org_home", org_slug=last if last in slugs else slugs[0])


@org_view()
def org_home(request, org_slug):
    context = {
        "member_count": Membership.objects.filter(organization=request.org).count(),
        "team_count": Team.objects.filter(organization=request.org).count(),
        "my_teams": Team.objects.filter(organization=request.org, members=request.user),
    }
    return render(request, "tenancy/org_home.html", context)


def _member_page(request, *, invite_form=None, status=200):
    context = {
        "memberships": selectors.membership_list(organization=request.org),
        "invitations": selectors.open_invitation_list(organization=request.org),
        "invite_form": invite_form or InvitationForm(),
        "roles": Role.choices,
        "admin_count": Membership.objects.filter(organization=request.org, role=Role.ADMIN).count(),
    }
    return render(request, "tenancy/member_list.html", context, status=status)


@org_view(Capability.MANAGE_MEMBERS)
def member_list(request, org_slug):
    return _member_page(request)


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def invitation_create(request, org_slug):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation, _ = services.invitation_create(
                organization=request.org,
                actor=request.membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(
                request,
                f"Invitation sent to {invitation.email} as {invitation.get_role_display()}.",
            )
            return redirect("tenancy:member_list", org_slug=org_slug)
    return _member_page(request, invite_form=form, status=200)


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def invitation_revoke(request, org_slug, pk):
    invitation = get_object_or_404(Invitation, pk=pk)
    services.invitation_revoke(
        organization=request.org, actor=request.membership, invitation=invitation
    )
    messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("tenancy:member_list", org_slug=org_slug)


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def member_role(request, org_slug, pk):
    membership = get_object_or_404(Membership, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("tenancy:member_list", org_slug=org_slug)
    try:
        services.membership_change_role(
            organization=request.org,
            actor=request.membership,
            membership=membership,
            role=form.cleaned_data["role"],
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request, f"{membership.user} is now {Role(form.cleaned_data['role']).label}."
        )
    return redirect("tenancy:member_list", org_slug=org_slug)


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def member_remove(request, org_slug, pk):
    membership = get_object_or_404(Membership, pk=pk)
    try:
        services.membership_remove(
            organization=request.org, actor=request.membership, membership=membership
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"{membership.user} was removed from {request.org}.")
    return redirect("tenancy:member_list", org_slug=org_slug)


@org_view(Capability.MANAGE_TEAMS)
def team_list(request, org_slug):
    return render(
        request, "tenancy/team_list.html", {"teams": selectors.team_list(organization=request.org)}
    )


def _team_form_page(request, *, team: Team | None):
    form = TeamForm(request.POST or None, organization=request.org, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.team_save(
                organization=request.org,
                actor=request.membership,
                team=team,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                members=form.cleaned_data["members"],
            )
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Team “{saved.name}” saved.")
            return redirect("tenancy:team_list", org_slug=request.org.slug)
    return render(request, "tenancy/team_form.html", {"form": form, "team": team})


@org_view(Capability.MANAGE_TEAMS)
def team_create(request, org_slug):
    return _team_form_page(request, team=None)


@org_view(Capability.MANAGE_TEAMS)
def team_update(request, org_slug, pk):
    return _team_form_page(request, team=get_object_or_404(Team, pk=pk))


@require_POST
@org_view(Capability.MANAGE_TEAMS)
def team_delete(request, org_slug, pk):
    team = get_object_or_404(Team, pk=pk)
    try:
        services.team_delete(organization=request.org, actor=request.membership, team=team)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("tenancy:team_update", org_slug=org_slug, pk=pk)
    messages.success(request, f"Team “{team.name}” deleted.")
    return redirect("tenancy:team_list", org_slug=org_slug)


@login_not_required
def invitation_accept(request, token):
    """The one-time link from the invitation e-mail. New addresses set a name and password;
    existing accounts sign in first, then accept."""
    invitation = services.invitation_from_token(token)
    if invitation is None:
        return render(request, "tenancy/invitation_invalid.html", status=404)
    has_account = User.objects.filter(email__iexact=invitation.email).exists()
    form = None
    error = None
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError as exc:
                error = _error_text(exc)
            else:
                messages.success(request, f"Welcome to {invitation.organization}.")
                return redirect("tenancy:org_home", org_slug=invitation.organization.slug)
    elif not has_account:
        form = AcceptInvitationForm(request.POST or None, email=invitation.email)
        if request.method == "POST" and form.is_valid():
            try:
                membership = services.invitation_accept(
                    invitation=invitation,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password1"],
                )
            except ValidationError as exc:
                error = _error_text(exc)
            else:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome to {invitation.organization}.")
                return redirect("tenancy:org_home", org_slug=invitation.organization.slug)
    context = {"invitation": invitation, "form": form, "has_account": has_account, "error": error}
    return render(request, "tenancy/invitation_accept.html", context)
