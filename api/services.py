"""Creating and revoking personal API tokens."""

import datetime

from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, hash_secret
from tenancy.models import Membership

MAX_LIFETIME = datetime.timedelta(days=366)


@transaction.atomic
def token_create(
    *, organization, user, name: str, scope: str, expires_at: datetime.datetime
) -> tuple[ApiToken, str]:
    """A new token for `user` (a member) in `organization`; returns it and the whole token
    string, which is shown once and never stored."""
    now = timezone.now()
    if expires_at <= now:
        raise ValueError("The expiry must be in the future.")
    if expires_at - now > MAX_LIFETIME:
        raise ValueError("A token may live at most a year.")
    role = (
        Membership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise ValueError("Only members of the organisation may hold its tokens.")
    lookup, secret, shown = ApiToken.new_secret()
    token = ApiToken.objects.create(
        organization=organization,
        user=user,
        name=name,
        scope=scope,
        lookup=lookup,
        secret_hash=hash_secret(secret),
        expires_at=expires_at,
    )
    return token, shown


@transaction.atomic
def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
