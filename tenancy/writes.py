"""The guard every organisation-settings service shares: the acting membership must belong to
the organisation and hold the capability; the write runs atomically in the org's scope."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import models, transaction

from tenancy.models import Membership, Organization
from tenancy.roles import Capability, can
from tenancy.scoping import org_scope


def require_capability(
    actor: Membership | None, organization: Organization, capability: Capability, refusal: str
) -> None:
    if actor is None or actor.organization_id != organization.pk or not can(actor.role, capability):
        raise PermissionDenied(refusal)


def org_write(capability: Capability, refusal: str) -> Callable:
    """Decorate a service taking `organization` and `actor` (a Membership): refuse actors
    without `capability`; run it atomically in the organisation's scope (entering it again
    inside a request for the same organisation is harmless)."""

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(*, organization: Organization, actor: Membership, **kwargs):
            require_capability(actor, organization, capability, refusal)
            with transaction.atomic(), org_scope(organization):
                return func(organization=organization, actor=actor, **kwargs)

        return wrapper

    return decorator


def own(instance: models.Model, organization: Organization):
    """The row again, locked, after checking it belongs to `organization`."""
    if instance.organization_id != organization.pk:
        raise PermissionDenied("That row belongs to another organisation.")
    return type(instance).objects.select_for_update().get(pk=instance.pk)
