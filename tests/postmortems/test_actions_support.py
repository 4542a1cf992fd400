"""Helpers for the action-item tests: post-mortems and items created directly (not through the
post-mortem services another part owns), a controlled clock and readers of what was sent."""

import datetime as dt
from zoneinfo import ZoneInfo

from django_scopes import scopes_disabled

from incidents.models import Notification, TimelineEvent
from postmortems.models import ActionItem, PostMortem
from tests.incidents.factories import declare, severity

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def at(year, month, day, hour=12, minute=0, tz=UTC) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


def make_postmortem(org, actor, *, title="Checkout fails", level="SEV-3", **incident_fields):
    """An incident declared by `actor` and its post-mortem row (draft)."""
    incident = declare(org, actor, title=title, severity=severity(org, level), **incident_fields)
    return PostMortem.objects.create(
        organization=org, incident=incident, title=f"Post-mortem: {title}", owner=actor
    )


def make_item(postmortem, title="Add a canary", **fields) -> ActionItem:
    """An action item stored directly, for hand-built datasets."""
    return ActionItem.objects.create(
        organization=postmortem.organization, postmortem=postmortem, title=title, **fields
    )


def fresh(item: ActionItem) -> ActionItem:
    with scopes_disabled():
        return ActionItem.objects.get(pk=item.pk)


def sent(kind_prefix="action_item") -> list[tuple[str, str]]:
    """(recipient e-mail, kind) of every action-item notification, in order."""
    with scopes_disabled():
        return list(
            Notification.objects.filter(kind__startswith=kind_prefix)
            .order_by("pk")
            .values_list("recipient__email", "kind")
        )


def timeline(incident) -> list[str]:
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(incident=incident, data__has_key="action_item_id")
            .order_by("created_at", "pk")
            .values_list("message", flat=True)
        )
