"""Personal API tokens: a user's key to `/api/v1/` in one organisation, acting as that user with
that user's role and object permissions."""

import hashlib
import hmac
import secrets

from django.db import models
from django.utils import timezone

from tenancy.models import OrgOwned, User

PREFIX = "vgl"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(OrgOwned):
    """Shown once as `vgl_<lookup>_<secret>`; only the secret's sha256 is stored. `lookup` finds
    the row; the secret is compared in constant time. A token works until it expires or is
    revoked, and only while its user is active and still a member of the organisation."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “chat bot”.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    lookup = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["read", "write"]), name="api_token_scope"
            )
        ]

    def __str__(self) -> str:
        return f"API token “{self.name}” of {self.user_id} ({self.lookup})"

    @classmethod
    def new_secret(cls) -> tuple[str, str, str]:
        """(lookup, secret, the whole token as shown once)."""
        lookup = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return lookup, secret, f"{PREFIX}_{lookup}_{secret}"

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE


class IdempotencyRecord(OrgOwned):
    """One `Idempotency-Key` a user sent with a POST: a hash of the request (method, path, body)
    and, once it has run, what a repeat of the same request needs to answer it again: the status,
    `Location` and the identity of the object the request made or changed (`object_id`). The
    object's body is never stored: a replay rebuilds it through the current read path, so access
    and masking apply as they are now. Only an error answer (4xx, which names no object) keeps its
    JSON body (`error_body`). `status_code` is null while the first request still runs (a claim
    older than a minute without a status is taken as abandoned). Kept 24 hours."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    error_body = models.JSONField(null=True, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "key"], name="api_idempotency_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key!r} of {self.user_id}"
