"""Which sessions belong to whom, and the security log of sign-in events."""

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models
from django.utils import timezone


class UserSession(models.Model):
    """A live session of a user: the index that lets Vigil end every session of one person
    without reading every session in the table. Deleting the session row deletes this one
    (logout, expiry via `clearsessions`, a cycled key)."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"session of {self.user} since {self.created_at:%Y-%m-%d %H:%M}"


class SecurityEvent(models.Model):
    """One sign-in related event: failures, lockouts, two-factor changes, ended sessions.
    Written for every user whether or not they belong to an organisation (a failed login for
    an unknown address has no user at all), read by operators in the admin."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        LOCKED_OUT = "locked_out", "Locked out"
        CODE_FAILED = "code_failed", "Wrong two-factor code"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
        TWO_FACTOR_ENROLLED = "two_factor_enrolled", "Two-factor set up"
        TWO_FACTOR_REMOVED = "two_factor_removed", "Two-factor removed"
        RECOVERY_CODES_CREATED = "recovery_codes_created", "Recovery codes created"
        SESSIONS_ENDED = "sessions_ended", "Sessions ended"
        SESSION_EXPIRED = "session_expired", "Session expired"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=254, blank=True, help_text="as typed at sign-in")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["user", "-at"], name="securityevent_user_at"),
            models.Index(fields=["kind", "-at"], name="securityevent_kind_at"),
        ]

    def __str__(self) -> str:
        who = self.username or self.user_id
        return f"{self.get_kind_display()}: {who} at {self.at:%Y-%m-%d %H:%M}"
