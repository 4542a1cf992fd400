"""The user's API tokens page, `/o/<org>/settings/api-tokens/`: their own tokens in this
organisation (create — shown once —, revoke) and, for admins, every token of the organisation
(revoke any). Thin: parse, call api.services, render."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control

from api import services
from api.models import ApiToken
from api.token_forms import ApiTokenForm
from tenancy.access import org_view
from tenancy.roles import Capability, can


def _may_see_all(request) -> bool:
    return can(request.membership.role, Capability.MANAGE_MEMBERS)


def _context(request, form, shown=None, created=None):
    own = ApiToken.objects.filter(organization=request.org, user=request.user)
    others = None
    if _may_see_all(request):
        others = (
            ApiToken.objects.filter(organization=request.org)
            .exclude(user=request.user)
            .select_related("user")
        )
    return {"form": form, "tokens": own, "others": others, "shown": shown, "created": created}


@org_view()
def token_list(request, org_slug):
    form = ApiTokenForm(request.POST or None, role=request.membership.role)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        token, shown = services.token_create(
            organization=request.org,
            user=request.user,
            name=data["name"],
            scope=data["scope"],
            expires_at=data["expires_at"],
        )
        # Rendered, not redirected: the whole token exists only in this response.
        fresh = ApiTokenForm(role=request.membership.role)
        response = render(request, "api/tokens.html", _context(request, fresh, shown, token))
        # The token is in this page: no cache (browser, proxy, back button) may keep it.
        patch_cache_control(response, no_store=True, no_cache=True, private=True)
        return response
    return render(request, "api/tokens.html", _context(request, form))


def _token(request, pk) -> ApiToken:
    """The user's own token, or (admins) any of the organisation's; others are 404."""
    tokens = ApiToken.objects.filter(organization=request.org)
    if not _may_see_all(request):
        tokens = tokens.filter(user=request.user)
    token = tokens.select_related("user").filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    return token


@org_view()
def token_revoke(request, org_slug, pk):
    """GET asks for confirmation; POST revokes."""
    token = _token(request, pk)
    if request.method == "POST":
        services.token_revoke(token=token)
        messages.success(request, f"Token “{token.name}” revoked. It no longer works.")
        return redirect("api_tokens:list", org_slug=org_slug)
    return render(request, "api/token_revoke.html", {"token": token})
