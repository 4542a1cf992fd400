"""Request wiring for tenancy: who is acting (for the audit trail) and which organisation a
`/o/<slug>/…` request belongs to."""

import re

from auditlog.context import set_extra_data
from django.http import Http404
from django.utils import timezone
from django_scopes import scopes_disabled

from tenancy.models import Membership
from tenancy.scoping import org_scope

ORG_PATH = re.compile(r"^/o/(?P<slug>[^/]+)/")


class AuditContextMiddleware:
    """Every audit entry written during a request names the signed-in user, their address
    and `web` as the origin."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user if request.user.is_authenticated else None
        context = {
            "actor": user,
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "origin": "web",
        }
        with set_extra_data(context):
            return self.get_response(request)


class OrganizationMiddleware:
    """Resolves `/o/<slug>/`, checks the membership and runs the rest of the request —
    template rendering included — inside that organisation's scope and time zone.

    A missing organisation and someone else's organisation both answer 404, so Vigil never
    confirms that an organisation exists. Anonymous requests pass through untouched: the login
    middleware sends them to the login page before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.org = None
        request.membership = None
        match = ORG_PATH.match(request.path_info)
        if match is None or not request.user.is_authenticated:
            return self.get_response(request)
        with scopes_disabled():  # resolving the scope itself
            membership = (
                Membership.objects.select_related("organization")
                .filter(organization__slug=match["slug"], user=request.user)
                .first()
            )
        if membership is None:
            raise Http404("No such organisation.")
        request.org = membership.organization
        request.membership = membership
        if request.session.get("last_org") != request.org.slug:
            request.session["last_org"] = request.org.slug
        with org_scope(request.org), timezone.override(request.org.tzinfo):
            return self.get_response(request)
