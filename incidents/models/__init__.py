"""Incident models, one module per concern."""

from incidents.models.coordination import (
    STATUS_CADENCE_DEFAULTS,
    Handoff,
    IncidentRole,
    OpenQuestion,
    StatusCadence,
    StatusDeadline,
    StatusUpdate,
    StatusUpdateTemplate,
)
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
    "STATUS_CADENCE_DEFAULTS",
    "Handoff",
    "IncidentRole",
    "OpenQuestion",
    "StatusCadence",
    "StatusDeadline",
    "StatusUpdate",
    "StatusUpdateTemplate",
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
