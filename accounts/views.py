"""Sign-in (password, then a code when the user has two-factor), the account security page
(two-factor set-up, recovery codes, sign out everywhere) and the lockout page."""

import math
from base64 import b32encode

import qrcode
import qrcode.image.svg
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from accounts import services
from accounts.forms import CodeForm, ConfirmAuthenticatorForm
from accounts.lockout import attempted_username
from accounts.services import client_ip
from accounts.sessions import now
from tenancy.models import User

PENDING = "vigil_2fa_pending"  # {"user": pk, "backend": path, "at": epoch seconds}
PENDING_SECONDS = 300  # the code step must follow the password within five minutes
PENDING_TRIES = 10  # then the password is asked again
SETUP_KEY = "vigil_totp_setup_key"


def _next_url(request, fallback: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback or reverse(settings.LOGIN_REDIRECT_URL)


class SignInView(auth_views.LoginView):
    """The password step. A user with an authenticator is not signed in yet: they go on to the
    code step. Locked-out attempts never get here (axes answers first)."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if services.has_two_factor(user):
            self.request.session[PENDING] = {
                "user": user.pk,
                "backend": user.backend,
                "at": now(),
                "tries": 0,
            }
            query = urlencode({"next": self.get_redirect_url()}) if self.get_redirect_url() else ""
            return redirect(f"{reverse('accounts:login_code')}{'?' + query if query else ''}")
        return super().form_valid(form)


def _pending_user(request) -> User | None:
    pending = request.session.get(PENDING)
    if not pending or now() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


@login_not_required
def login_code(request):
    """The code step: after the password (pending), or for a signed-in user whose role now
    requires two-factor and who has not passed it in this session."""
    user = _pending_user(request)
    signed_in = user is None and request.user.is_authenticated
    if signed_in:
        user = request.user
        if user.is_verified():
            return redirect(_next_url(request))
    if user is None:
        messages.info(request, "Please sign in again.")
        return redirect_to_login_with_next(request)
    if not services.has_two_factor(user):
        return redirect(
            f"{reverse('accounts:two_factor_setup')}?{urlencode({'next': _next_url(request)})}"
        )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        totp = services.authenticator_get(user)
        throttled = totp is not None and not totp.verify_is_allowed()[0]
        device = services.code_verify(user=user, code=form.cleaned_data["code"], request=request)
        if device is not None:
            if not signed_in:
                backend = request.session[PENDING]["backend"]
                del request.session[PENDING]
                login(request, user, backend=backend)
            otp_login(request, device)
            if device.persistent_id.startswith("otp_static"):
                left = services.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "Create new ones on your account security page if you are running low.",
                )
            return redirect(_next_url(request))
        if not signed_in:
            request.session[PENDING]["tries"] += 1
            request.session.modified = True
            if request.session[PENDING]["tries"] >= PENDING_TRIES:
                del request.session[PENDING]
                messages.error(request, "Too many wrong codes. Please sign in again.")
                return redirect_to_login_with_next(request)
        form.add_error(
            "code",
            "That code is not right, or was already used. Enter the code your app shows now, "
            "or an unused recovery code."
            if not throttled
            else "Too many wrong codes: wait a few seconds, then enter the current code.",
        )
    return render(
        request,
        "accounts/login_code.html",
        {"form": form, "next": _next_url(request, fallback=""), "signed_in": signed_in},
    )


def redirect_to_login_with_next(request):
    query = urlencode({"next": _next_url(request)})
    return redirect(f"{reverse('login')}?{query}")


def _setup_context(request, key: str) -> dict:
    device = TOTPDevice(user=request.user, key=key, name=services.AUTHENTICATOR_NAME)
    svg = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8
    ).to_string(encoding="unicode")
    secret = b32encode(device.bin_key).decode()
    return {
        "qr_svg": svg,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "issuer": settings.OTP_TOTP_ISSUER,
    }


def security(request):
    """The account security page: two-factor status, recovery codes, sessions."""
    user = request.user
    return render(
        request,
        "accounts/security.html",
        {
            "has_two_factor": services.has_two_factor(user),
            "required": services.two_factor_required(user),
            "codes_left": services.recovery_codes_left(user),
            "session_count": services.session_count(user=user),
            "idle_minutes": settings.VIGIL_SESSION_IDLE_SECONDS // 60,
            "absolute_hours": round(settings.VIGIL_SESSION_ABSOLUTE_SECONDS / 3600, 1),
        },
    )


def _must_reverify(request) -> bool:
    """Changing an existing second factor needs a session that passed it."""
    return services.has_two_factor(request.user) and not request.user.is_verified()


def two_factor_setup(request):
    """Set up (or replace) the authenticator app: a QR code and the secret to type in, then a
    code from the app confirms it. The secret waits in the session until then, so showing the
    page writes no row."""
    if _must_reverify(request):
        return redirect(f"{reverse('accounts:login_code')}?{urlencode({'next': request.path})}")
    key = request.session.get(SETUP_KEY)
    if key is None:
        key = request.session[SETUP_KEY] = random_hex(20)
    form = ConfirmAuthenticatorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.authenticator_confirm(
            user=request.user, key=key, code=form.cleaned_data["code"], request=request
        )
        if codes is not None:
            del request.session[SETUP_KEY]
            otp_login(request, services.authenticator_get(request.user))
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": _next_url(request, fallback=reverse("accounts:security"))},
            )
        form.add_error(
            "code",
            "That code does not match. Check the app shows “Vigil” and enter its current code.",
        )
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "next": _next_url(request, fallback=""), **_setup_context(request, key)},
    )


@require_POST
def recovery_codes_regenerate(request):
    if not services.has_two_factor(request.user):
        messages.error(request, "Set up two-factor sign-in first.")
        return redirect("accounts:security")
    if _must_reverify(request):
        return redirect(
            f"{reverse('accounts:login_code')}?{urlencode({'next': reverse('accounts:security')})}"
        )
    codes = services.recovery_codes_create(user=request.user, request=request)
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "next": reverse("accounts:security")},
    )


@require_POST
def two_factor_remove(request):
    if services.two_factor_required(request.user):
        messages.error(request, "Your role requires two-factor sign-in; it cannot be removed.")
        return redirect("accounts:security")
    if _must_reverify(request):
        return redirect(
            f"{reverse('accounts:login_code')}?{urlencode({'next': reverse('accounts:security')})}"
        )
    services.two_factor_remove(user=request.user, request=request)
    messages.success(request, "Two-factor sign-in is off.")
    return redirect("accounts:security")


@require_POST
def sessions_end(request):
    """Sign out everywhere, this browser included."""
    user = request.user
    count = services.sessions_end(user=user, actor=user, request=request)
    logout(request)
    messages.success(request, f"Signed out of {count} session{'s' if count != 1 else ''}.")
    return redirect("login")


@login_not_required
def admin_login(request):
    """The Django admin's sign-in page: Vigil's own (lockout, two-factor) instead. Someone
    signed in who is not staff is refused rather than sent round in a loop."""
    if request.user.is_authenticated:
        raise PermissionDenied("The Django admin is for staff only.")
    return redirect_to_login(_next_url(request, fallback="/admin/"))


@login_not_required
def locked_out(request, original_response=None, credentials=None):
    """What a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): 429 and how long to wait."""
    username = attempted_username(request, credentials)
    cool_off = get_cool_off(request)
    last = AccessAttempt.objects.filter(username=username, ip_address=client_ip(request)).aggregate(
        last=Max("attempt_time")
    )["last"]
    remaining = (last + cool_off - timezone.now()) if last and cool_off else cool_off
    minutes = max(1, math.ceil(remaining.total_seconds() / 60)) if remaining else None
    response = render(
        request,
        "accounts/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(minutes * 60) if minutes else "900"
    return response
