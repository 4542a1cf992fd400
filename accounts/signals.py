"""Sign-in hooks: the session clock and index at login, the security log for failures and
lockouts, and ending the sessions of a deactivated user."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts import services
from accounts.models import SecurityEvent
from accounts.sessions import session_start
from tenancy.models import User


@receiver(user_logged_in, dispatch_uid="accounts.logged_in")
def _logged_in(sender, request, user, **kwargs):
    session_start(request, user)
    services.security_event_record(kind=SecurityEvent.Kind.LOGIN, user=user, request=request)


@receiver(user_login_failed, dispatch_uid="accounts.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    if getattr(request, "axes_locked_out", False):
        return  # written as the lockout event instead (below)
    username = str(credentials.get("username", "")).replace("\x00", "")
    user = User.objects.filter(email__iexact=username).first() if username else None
    services.security_event_record(
        kind=SecurityEvent.Kind.LOGIN_FAILED, user=user, username=username, request=request
    )


@receiver(user_locked_out, dispatch_uid="accounts.locked_out")
def _locked_out(sender, request, username, ip_address, **kwargs):
    username = (username or "").replace("\x00", "")
    user = User.objects.filter(email__iexact=username).first() if username else None
    services.security_event_record(
        kind=SecurityEvent.Kind.LOCKED_OUT, user=user, username=username or "", request=request
    )


@receiver(post_save, sender=User, dispatch_uid="accounts.deactivated")
def _deactivated(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        services.sessions_end(user=instance, actor=None)
