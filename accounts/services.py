"""Writes for signing in: the security log, the session index, ending sessions, two-factor
devices and recovery codes."""

import logging
import secrets

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from accounts.models import SecurityEvent, UserSession
from tenancy.models import Membership, User

logger = logging.getLogger("vigil.security")

RECOVERY_DEVICE_NAME = "recovery codes"
AUTHENTICATOR_NAME = "authenticator app"


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from, as Django (and axes) see it."""
    return request.META.get("REMOTE_ADDR") if request is not None else None


def security_event_record(
    *,
    kind: str,
    user: User | None = None,
    username: str = "",
    request: HttpRequest | None = None,
    **detail,
) -> SecurityEvent:
    """Write one event to the security log (table and `vigil.security` logger). Never the
    password or a code: only what happened, to whom, from where."""
    event = SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.email if user else ""))[:254],
        ip_address=client_ip(request),
        detail=detail,
    )
    logger.info(
        "security event %s user=%s username=%s ip=%s",
        kind,
        user.pk if user else "-",
        event.username or "-",
        event.ip_address or "-",
    )
    return event


# — sessions ——————————————————————————————————————————————————————————————————————————————


def session_index(*, request: HttpRequest, user: User) -> None:
    """Remember that the request's session belongs to `user` (called at sign-in, and when the
    key changes, e.g. after a password change)."""
    key = request.session.session_key
    if not key or not Session.objects.filter(session_key=key).exists():
        return
    UserSession.objects.update_or_create(
        session_id=key,
        defaults={
            "user": user,
            "ip_address": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:255],
        },
    )


def session_count(*, user: User) -> int:
    """How many sessions of `user` are indexed (live or not yet cleared)."""
    return UserSession.objects.filter(user=user).count()


@transaction.atomic
def sessions_end(*, user: User, actor: User | None, request: HttpRequest | None = None) -> int:
    """End every session of `user` (sign out everywhere). Returns how many ended. The actor
    is the user themselves, an organisation admin, or None (the user was deactivated)."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_id", flat=True))
    if not keys and actor is None:
        return 0  # saving an already inactive user: nothing to end, nothing to log
    Session.objects.filter(session_key__in=keys).delete()  # their index rows go with them
    security_event_record(
        kind=SecurityEvent.Kind.SESSIONS_ENDED,
        user=user,
        request=request,
        count=len(keys),
        by=actor.email if actor else "deactivation",
    )
    return len(keys)


# — two-factor ————————————————————————————————————————————————————————————————————————————


STAFF = "staff"  # in VIGIL_2FA_REQUIRED_ROLES: staff users (the cross-tenant admin) too


def two_factor_required(user: User) -> bool:
    """Whether `user` must use two-factor: they hold one of VIGIL_2FA_REQUIRED_ROLES in any
    organisation, or are staff and `staff` is listed. Read on every request, so a promotion
    takes effect at once."""
    roles = list(settings.VIGIL_2FA_REQUIRED_ROLES)
    if not roles or not user.is_authenticated:
        return False
    if user.is_staff and STAFF in roles:
        return True
    with scopes_disabled():  # across every organisation of the user (also for the database)
        return Membership.objects.filter(user=user, role__in=roles).exists()


def authenticator_get(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user: User) -> bool:
    """Whether the user has set up two-factor (a confirmed authenticator)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def authenticator_confirm(
    *, user: User, key: str, code: str, request: HttpRequest
) -> list[str] | None:
    """Confirm a new authenticator (hex `key`, shown as a QR code) with a code from it. On
    success it replaces any older authenticator, remembers the code as used (no replay), and
    fresh recovery codes are made and returned, to be shown once."""
    device = TOTPDevice(user=user, key=key, name=AUTHENTICATOR_NAME, confirmed=True)
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if not totp.verify(int(code), device.tolerance):
        return None
    device.last_t = totp.t()
    TOTPDevice.objects.filter(user=user).delete()
    device.save()
    security_event_record(kind=SecurityEvent.Kind.TWO_FACTOR_ENROLLED, user=user, request=request)
    return recovery_codes_create(user=user, request=request)


@transaction.atomic
def recovery_codes_create(*, user: User, request: HttpRequest | None = None) -> list[str]:
    """Replace the user's recovery codes with new single-use ones and return them."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [_recovery_code() for _ in range(settings.VIGIL_RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    security_event_record(
        kind=SecurityEvent.Kind.RECOVERY_CODES_CREATED, user=user, request=request
    )
    return codes


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE_NAME).count()


def _recovery_code() -> str:
    # 10 hexadecimal characters (40 bits) as xxxxx-xxxxx: single use, and throttled.
    raw = secrets.token_hex(5)
    return f"{raw[:5]}-{raw[5:]}"


def code_verify(*, user: User, code: str, request: HttpRequest):
    """The device that accepts `code` — the authenticator app or a recovery code (used up) —
    or None. Each device throttles its own failures (django-otp), so guessing slows down."""
    code = "".join(code.split()).replace("-", "").lower()
    totp = authenticator_get(user)
    if totp is not None and len(code) == 6 and code.isdigit() and totp.verify_token(code):
        return totp
    static = StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).first()
    recovery = f"{code[:5]}-{code[5:]}"
    if static is not None and len(code) == 10 and static.verify_token(recovery):
        security_event_record(
            kind=SecurityEvent.Kind.RECOVERY_CODE_USED,
            user=user,
            request=request,
            left=recovery_codes_left(user),
        )
        return static
    security_event_record(kind=SecurityEvent.Kind.CODE_FAILED, user=user, request=request)
    return None


@transaction.atomic
def two_factor_remove(*, user: User, request: HttpRequest) -> None:
    """Remove the authenticator and recovery codes (only allowed when not required)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    security_event_record(kind=SecurityEvent.Kind.TWO_FACTOR_REMOVED, user=user, request=request)
