"""Reads of incident channels. The incident itself comes from incidents.selectors (which
applies the visibility rule); these only read what hangs off a visible incident."""

from django.db.models import Count, Max, QuerySet

from incidents.channels.models import IncidentChannel, WarRoomMessage
from incidents.models import Incident

PAGE = 100


def channel_list(*, incident: Incident) -> list[IncidentChannel]:
    return list(IncidentChannel.objects.filter(incident=incident).order_by("pk"))


def war_room_stats(*, incident: Incident) -> dict:
    return WarRoomMessage.objects.filter(incident=incident).aggregate(
        count=Count("pk"), last_at=Max("created_at")
    )


def _messages(incident: Incident) -> QuerySet[WarRoomMessage]:
    return WarRoomMessage.objects.filter(incident=incident).select_related("author")


def war_room_latest(*, incident: Incident, before: int | None = None, limit: int = PAGE):
    """The newest `limit` messages (older than `before`), oldest first, and whether there are
    earlier ones."""
    queryset = _messages(incident)
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    has_earlier = len(rows) > limit
    return list(reversed(rows[:limit])), has_earlier


def war_room_after(*, incident: Incident, after: int, limit: int = PAGE) -> list[WarRoomMessage]:
    """Messages newer than `after`, oldest first: what a polling war room has not seen."""
    return list(_messages(incident).filter(pk__gt=after).order_by("pk")[:limit])
