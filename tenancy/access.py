"""The one decorator and mixin every organisation page uses to check capabilities."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404

from tenancy.roles import Capability, can


def check_org_access(request, capability: Capability | None, *, hidden: bool = False) -> None:
    """404 outside an organisation the user belongs to; 403 when the role lacks `capability`
    (404 when the page's existence is itself not for that role: `hidden`)."""
    if getattr(request, "membership", None) is None:
        raise Http404("No such organisation.")
    if capability is not None and not can(request.membership.role, capability):
        if hidden:
            raise Http404("No such page.")
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")


def org_view(capability: Capability | None = None, *, hidden: bool = False):
    """Decorate a view under `/o/<org_slug>/`: members only, and only roles with `capability`
    (others get 403, or 404 with `hidden` — the compliance pages)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            check_org_access(request, capability, hidden=hidden)
            return view(request, *args, **kwargs)

        wrapped.org_capability = capability
        return wrapped

    return decorator


class OrgViewMixin:
    """The class-based twin of `org_view`."""

    capability: Capability | None = None

    def dispatch(self, request, *args, **kwargs):
        check_org_access(request, self.capability)
        return super().dispatch(request, *args, **kwargs)
