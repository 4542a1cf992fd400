"""Per-request checks for signed-in browser sessions: the idle and absolute session limits,
and two-factor for the roles that require it. Neither costs a query for a session that is
within its limits and does not need two-factor."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts import services
from accounts.models import SecurityEvent
from accounts.sessions import INDEXED_KEY, LOGIN_AT, SEEN_AT, expiry_reason, now

# Pages a signed-in user who still owes a second factor may reach: the sign-in and account
# pages themselves, and what never uses the browser session.
TWO_FACTOR_EXEMPT = ("/accounts/", "/static/", "/api/", "/hooks/", "/healthz", "/readyz")


class SessionTimeoutMiddleware:
    """Ends a session idle for longer than VIGIL_SESSION_IDLE_SECONDS or older than
    VIGIL_SESSION_ABSOLUTE_SECONDS. Last activity is written at most once every
    VIGIL_SESSION_TOUCH_SECONDS, so most requests do not write the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session:
            return self.get_response(request)
        current = now()
        if LOGIN_AT not in session:
            # A session from before these limits: its clock starts now.
            session[LOGIN_AT] = session[SEEN_AT] = current
        reason = expiry_reason(session)
        if reason is not None:
            return self._expire(request, reason)
        if current - session[SEEN_AT] >= settings.VIGIL_SESSION_TOUCH_SECONDS:
            session[SEEN_AT] = current
        if session.session_key and session.get(INDEXED_KEY) != session.session_key:
            # The key changed (a password change cycles it): index the new one.
            services.session_index(request=request, user=request.user)
            session[INDEXED_KEY] = session.session_key
        return self.get_response(request)

    def _expire(self, request, reason: str):
        user = request.user
        services.security_event_record(
            kind=SecurityEvent.Kind.SESSION_EXPIRED, user=user, request=request, reason=reason
        )
        logout(request)
        messages.info(
            request,
            f"You were signed out after {settings.VIGIL_SESSION_IDLE_SECONDS // 60} minutes "
            "without activity. Please sign in again."
            if reason == "idle"
            else "Your session reached its maximum length. Please sign in again.",
        )
        return _redirect_htmx_aware(request, redirect_to_login(request.get_full_path()))


class TwoFactorMiddleware:
    """Keeps a signed-in user who must use two-factor (VIGIL_2FA_REQUIRED_ROLES) but has not
    passed it in this session on the enrolment page (no authenticator yet) or the code step."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if (
            session is None
            or SESSION_KEY not in session
            or not settings.VIGIL_2FA_REQUIRED_ROLES
            or request.path_info.startswith(TWO_FACTOR_EXEMPT)
        ):
            return self.get_response(request)
        user = request.user
        if user.is_verified() or not services.two_factor_required(user):
            return self.get_response(request)
        query = urlencode({"next": request.get_full_path()})
        if services.has_two_factor(user):
            target = f"{reverse('accounts:login_code')}?{query}"
        else:
            messages.info(request, "Your role requires two-factor sign-in: set it up to go on.")
            target = f"{reverse('accounts:two_factor_setup')}?{query}"
        return _redirect_htmx_aware(request, redirect(target))


def _redirect_htmx_aware(request, response):
    """htmx follows a redirect inside the fragment; tell it to load the whole page instead."""
    if getattr(request, "htmx", False):
        response.status_code = 204
        response["HX-Redirect"] = response["Location"]
    return response
