"""The session clock: when the user signed in and when they were last seen, kept in the
session itself so checking it costs no query."""

import time

from django.conf import settings

from accounts import services

LOGIN_AT = "vigil_login_at"
SEEN_AT = "vigil_seen_at"
INDEXED_KEY = "vigil_indexed_key"


def now() -> float:
    return time.time()


def session_start(request, user) -> None:
    """Start the clock and index the (new, rotated) session key for `user`."""
    started = now()
    request.session[LOGIN_AT] = started
    request.session[SEEN_AT] = started
    services.session_index(request=request, user=user)
    request.session[INDEXED_KEY] = request.session.session_key


def expiry_reason(session) -> str | None:
    """'idle' or 'absolute' when the session is past a limit, else None."""
    current = now()
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT)
    if login_at is None or seen_at is None:
        return None
    if current - login_at > settings.VIGIL_SESSION_ABSOLUTE_SECONDS:
        return "absolute"
    if current - seen_at > settings.VIGIL_SESSION_IDLE_SECONDS:
        return "idle"
    return None
