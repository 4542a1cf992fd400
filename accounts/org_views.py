"""What an organisation admin may do about a member's sign-in: end their sessions."""

from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import services
from accounts.models import SecurityEvent
from tenancy.access import org_view
from tenancy.models import Membership
from tenancy.roles import Capability


@require_POST
@org_view(Capability.MANAGE_MEMBERS)
def member_sessions_end(request, org_slug, pk):
    """Sign a member of this organisation out everywhere (another organisation's member: 404,
    through the scoped manager)."""
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=pk)
    count = services.sessions_end(user=membership.user, actor=request.user, request=request)
    if membership.user_id == request.user.pk:
        logout(request)
        return redirect("login")
    messages.success(
        request, f"{membership.user} was signed out of {count} session{'s' if count != 1 else ''}."
    )
    return redirect("tenancy:member_list", org_slug=org_slug)


@org_view(Capability.MANAGE_MEMBERS)
def security_event_list(request, org_slug):
    """The sign-in log of this organisation's members: failures, lockouts, two-factor changes,
    ended sessions (the latest 200; an event of a person who is also in another organisation
    shows in both)."""
    members = Membership.objects.values("user_id")
    kind = request.GET.get("kind", "")
    events = SecurityEvent.objects.filter(user__in=members).select_related("user")
    if kind in SecurityEvent.Kind.values:
        events = events.filter(kind=kind)
    return render(
        request,
        "accounts/security_event_list.html",
        {"events": events[:200], "kinds": SecurityEvent.Kind.choices, "kind": kind},
    )
