"""Incident models, one module per concern."""

from incidents.models.incident import (
    ImpactPeriod,
    Incident,
    IncidentGroupObjectPermission,
    IncidentUserObjectPermission,
    KeyCounter,
    OwnershipRequest,
    TimelineEvent,
    Verification,
)
from incidents.models.notifications import (
    ChatWebhook,
    Delivery,
    Notification,
    NotificationPreference,
)
from incidents.models.sla import (
    BusinessCalendar,
    EscalationRun,
    Holiday,
    Phase,
    SlaPolicy,
    SlaTimer,
)

__all__ = [
    "BusinessCalendar",
    "ChatWebhook",
    "Delivery",
    "EscalationRun",
    "Holiday",
    "ImpactPeriod",
    "Incident",
    "IncidentGroupObjectPermission",
    "IncidentUserObjectPermission",
    "KeyCounter",
    "Notification",
    "NotificationPreference",
    "OwnershipRequest",
    "Phase",
    "SlaPolicy",
    "SlaTimer",
    "TimelineEvent",
    "Verification",
]
