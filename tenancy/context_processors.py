from django_scopes import scopes_disabled

from tenancy.models import Membership
from tenancy.roles import capabilities_of


def organization(request) -> dict:
    """The current organisation, the user's capabilities in it, and their other
    organisations for the switcher."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)

    def memberships():
        # The switcher lists every organisation of this user: deliberately cross-tenant,
        # filtered by the user.
        with scopes_disabled():
            return list(
                Membership.objects.filter(user=user)
                .select_related("organization")
                .order_by("organization__name")
            )

    return {
        "org": getattr(request, "org", None),
        "membership": membership,
        "caps": {str(c) for c in capabilities_of(membership.role if membership else None)},
        "user_memberships": memberships,
    }
