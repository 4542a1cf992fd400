"""Every organisation starts with SLA policies per severity and an office-hours calendar."""

from django.db import transaction

from incidents.models import BusinessCalendar, SlaPolicy
from taxonomy.models import SeverityLevel
from tenancy.models import Organization

# level: (acknowledge, mitigate, resolve) in minutes, clock
DEFAULT_POLICIES = {
    1: (5, 30, 240, SlaPolicy.Clock.WALL),
    2: (15, 60, 480, SlaPolicy.Clock.WALL),
    3: (60, 480, 2400, SlaPolicy.Clock.BUSINESS),
    4: (240, 1440, 4800, SlaPolicy.Clock.BUSINESS),
}


@transaction.atomic
def seed_sla_defaults(organization: Organization) -> None:
    """Create what is missing; never change what the organisation edited. Idempotent."""
    BusinessCalendar.objects.with_scopes_disabled().get_or_create(
        organization=organization,
        defaults={"timezone": organization.timezone, "working_days": [1, 2, 3, 4, 5]},
    )
    existing = set(
        SlaPolicy.objects.with_scopes_disabled()
        .filter(organization=organization, category__isnull=True)
        .values_list("severity__level", flat=True)
    )
    for severity in SeverityLevel.objects.with_scopes_disabled().filter(organization=organization):
        if severity.level in existing or severity.level not in DEFAULT_POLICIES:
            continue
        ack, mitigate, resolve, clock = DEFAULT_POLICIES[severity.level]
        SlaPolicy.objects.create(
            organization=organization,
            severity=severity,
            acknowledge_minutes=ack,
            mitigate_minutes=mitigate,
            resolve_minutes=resolve,
            clock=clock,
        )
