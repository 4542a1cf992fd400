"""Demo two-factor: every demo member whose role requires two-factor gets an authenticator
with one published secret, so `make run` works (README, "Demo accounts")."""

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import AUTHENTICATOR_NAME
from tenancy.models import Membership, Organization

# Published on purpose, like the demo password (README, "Demo accounts").
DEMO_TOTP_KEY = "48656c6c6f21deadbeef"  # hex, as django-otp stores it
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105 — the same key in base32, for the apps


def seed_two_factor(org: Organization) -> None:
    """Give the organisation's demo admins and compliance officers the demo authenticator."""
    memberships = Membership.objects.filter(
        role__in=settings.VIGIL_2FA_REQUIRED_ROLES
    ).select_related("user")
    for membership in memberships:
        if not membership.user.email.endswith(".test"):
            continue  # only the demo's own people
        if not TOTPDevice.objects.filter(user=membership.user, confirmed=True).exists():
            TOTPDevice.objects.create(
                user=membership.user, name=AUTHENTICATOR_NAME, key=DEMO_TOTP_KEY, confirmed=True
            )
