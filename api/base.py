"""What every `/api/v1/` view shares: token authentication, the token's organisation's scope
and time zone around the whole handler, the audit trail's actor, read/write scopes and role
capabilities, throttling per token. Subclass `OrgAPIView` (or `OrgViewSet`) and set
`capability` (and `write_capability` for unsafe methods)."""

import contextlib

from auditlog.context import set_extra_data
from django.utils import timezone
from rest_framework import permissions, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.views import APIView

from api import idempotency
from tenancy.roles import can
from tenancy.scoping import org_scope


class OrgScopedMixin:
    capability = None  # needed to read
    write_capability = None  # needed for unsafe methods (defaults to `capability`)
    hidden = True  # a role without the capability gets 404, as in the browser

    def dispatch(self, request, *args, **kwargs):
        with contextlib.ExitStack() as stack:
            self._stack = stack
            return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request):
        super().perform_authentication(request)
        org = getattr(request._request, "org", None)
        if org is not None:
            self._stack.enter_context(org_scope(org))
            self._stack.enter_context(timezone.override(org.tzinfo))
            self._stack.enter_context(
                set_extra_data(
                    {
                        "actor": request.user,
                        "remote_addr": request.META.get("REMOTE_ADDR"),
                        "origin": f"api:{request.auth.lookup}",
                    }
                )
            )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency = None
        self.idempotent_object_id = None  # a POST handler sets it to the object it made/changed
        if request.method == "POST" and getattr(request._request, "org", None) is not None:
            try:
                self._idempotency = idempotency.claim(request)
            except idempotency.Done as done:
                # Rebuilt through the current read path (NotFound if no longer visible).
                raise idempotency.Replay(idempotency.replay(done.record, self)) from None
            if self._idempotency is not None:
                # Released again if the handler dies with an unhandled exception (a 500).
                self._stack.callback(idempotency.release, self._idempotency)

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency", None)
        if record is not None and not response.has_header("Idempotent-Replayed"):
            idempotency.finish(record, response, self.idempotent_object_id)
        return response

    def replay_body(self, object_id: int):
        """The body a repeat of this view's POST answers with, for the object it made or
        changed, read as the user may see it now. POST views that set `idempotent_object_id`
        implement it."""
        raise NotImplementedError

    def check_permissions(self, request):
        super().check_permissions(request)
        membership = request._request.membership
        needed = self.capability
        if request.method not in permissions.SAFE_METHODS and self.write_capability:
            needed = self.write_capability
        if needed is not None and not can(membership.role, needed):
            if self.hidden:
                raise NotFound()
            raise PermissionDenied("Your role may not do this.")

    @property
    def org(self):
        return self.request._request.org

    @property
    def membership(self):
        return self.request._request.membership


class OrgAPIView(OrgScopedMixin, APIView):
    pass


class OrgViewSet(OrgScopedMixin, viewsets.GenericViewSet):
    pass
