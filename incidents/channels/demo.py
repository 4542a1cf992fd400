"""Demo channels: acme opens a war room for every incident and a bridge line for SEV-1/SEV-2
(no Slack: the demo has no workspace), and its open incidents have a few war-room messages."""

from datetime import timedelta

from incidents.channels import services
from incidents.channels.models import OFF, ChannelSettings, WarRoomMessage
from incidents.lifecycle import OPEN_STATES
from incidents.models import Incident
from tenancy.models import Membership, Organization

CHATTER = [
    "Joining. Looking at the error dashboards now.",
    "Rolled back the last deploy on one canary; errors unchanged there.",
    "Provider status page shows degraded service in eu-west.",
    "Customer support reports a spike in tickets since 10 minutes ago.",
    "Failing over read traffic to the secondary; will report in 5 minutes.",
]


def seed_channels(org: Organization) -> None:
    """Idempotent: settings are created once; messages only where nobody wrote yet."""
    if org.slug != "acme":
        return
    ChannelSettings.objects.get_or_create(
        organization=org,
        defaults={
            "war_room_level": 9,
            "slack_level": OFF,
            "bridge_level": 2,
            "bridge_url_pattern": "https://meet.example.com/{key}",
            "bridge_phone_pattern": "+49 30 1234 5678,,{number}#",
        },
    )
    people = [
        m.user
        for m in Membership.objects.filter(organization=org, role__in=["responder", "admin"])
        .select_related("user")
        .order_by("pk")
    ]
    if not people:
        return
    incidents = Incident.objects.filter(organization=org, status__in=OPEN_STATES).order_by(
        "-number"
    )[:5]
    for incident in incidents:
        services.channels_open(incident=incident)
        if WarRoomMessage.objects.filter(incident=incident, author__isnull=False).exists():
            continue
        start = max(incident.reported_at, incident.detected_at)
        for index, text in enumerate(CHATTER[: 3 + incident.number % 3]):
            WarRoomMessage.objects.create(
                organization=org,
                incident=incident,
                author=people[index % len(people)],
                text=text,
                created_at=start + timedelta(minutes=2 + 3 * index),
            )
