"""Reads of external communications, scoped to an organisation. Internal lists follow
incident visibility; the public reads return only published, public rows."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from incidents.selectors import incident_list
from incidents.statuspage.models import (
    Component,
    ExternalMessage,
    MessageComponent,
    MessageState,
)
from tenancy.models import Membership, Organization, User


def message_list(
    *, organization: Organization, user: User, membership: Membership | None = None
) -> QuerySet[ExternalMessage]:
    """Messages `user` may see inside the organisation: those with no incident, and those
    whose incident the incident visibility rule shows them (restricted ones stay hidden)."""
    if membership is None:
        membership = (
            Membership.objects.with_scopes_disabled()  # the reader's role, this org only
            .filter(organization=organization, user=user)
            .first()
        )
    visible = incident_list(organization=organization, user=user, membership=membership)
    return (
        ExternalMessage.objects.filter(organization=organization)
        .filter(Q(incident__isnull=True) | Q(Exists(visible.filter(pk=OuterRef("incident_id")))))
        .select_related("incident", "drafted_by", "approved_by", "published_by", "edited_by")
    )


def published_messages(*, organization: Organization) -> QuerySet[ExternalMessage]:
    """What the public page and feed show: published messages, newest first."""
    return (
        ExternalMessage.objects.filter(organization=organization, state=MessageState.PUBLISHED)
        .order_by("-published_at", "-pk")
        .only("pk", "title", "body", "status", "next_update_at", "published_at", "state")
    )


def affected_by_message(messages) -> dict[int, list[MessageComponent]]:
    """Each message's affected components, in one query (also set as
    `message.affected_items` for templates)."""
    by_message: dict[int, list[MessageComponent]] = {}
    ids = [message.pk for message in messages]
    for item in (
        MessageComponent.objects.filter(message_id__in=ids)
        .select_related("component")
        .order_by("component__order", "component__name")
    ):
        by_message.setdefault(item.message_id, []).append(item)
    for message in messages:
        message.affected_items = by_message.get(message.pk, [])
    return by_message


def component_list(*, organization: Organization) -> QuerySet[Component]:
    return Component.objects.filter(organization=organization).order_by("order", "name")
