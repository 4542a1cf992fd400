"""Where an incident is worked on besides its page: the built-in war room, a Slack channel and a
conference bridge. The rows are the record: a channel being created, a message waiting to be
posted and every failed attempt live here, so a lost Celery message or a restart loses nothing
(the sweeper in incidents.channels.services picks them up)."""

from django.db import models
from django.utils import timezone

from incidents.models import Incident
from tenancy.models import OrgOwned, User

OFF = 0
EVERY = 9  # the weakest level there can be: every severity


class Provider(models.TextChoices):
    WAR_ROOM = "war_room", "War room"
    SLACK = "slack", "Slack"
    BRIDGE = "bridge", "Bridge line"


class ChannelSettings(OrgOwned):
    """One per organisation: which channels open for which severities, and how to reach Slack
    and the bridge. A provider runs for incidents of severity level `<provider>_level` or
    stronger (SEV-1 is level 1); 0 turns it off.

    The Slack bot token is a credential: it is never shown again after saving, never logged
    and left out of the audit trail."""

    war_room_level = models.PositiveSmallIntegerField(
        "war room for", default=EVERY, help_text="Severity level and stronger; 0 is off."
    )
    slack_level = models.PositiveSmallIntegerField("Slack channel for", default=OFF)
    bridge_level = models.PositiveSmallIntegerField("bridge line for", default=OFF)

    slack_token = models.CharField("Slack bot token", max_length=255, blank=True)
    slack_base_url = models.CharField(
        "Slack API base URL", max_length=200, default="https://slack.com/api/"
    )
    slack_channel_prefix = models.CharField(max_length=20, blank=True, default="inc-")
    slack_invitees = models.CharField(
        "Slack user ids to invite",
        max_length=1000,
        blank=True,
        help_text="Comma-separated Slack member ids (U…/W…).",
    )
    slack_team_id = models.CharField(max_length=20, blank=True)
    slack_team_name = models.CharField(max_length=120, blank=True)
    slack_checked_at = models.DateTimeField(null=True, blank=True)

    bridge_url_pattern = models.CharField(max_length=300, blank=True)
    bridge_phone_pattern = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "channel settings"
        verbose_name_plural = "channel settings"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="channelsettings_one_per_org"),
        ]

    def __str__(self) -> str:
        return "Channel settings"

    @property
    def has_slack_token(self) -> bool:
        return bool(self.slack_token)

    @property
    def invitee_ids(self) -> list[str]:
        return [part for part in self.slack_invitees.replace(" ", ",").split(",") if part]

    def level_for(self, provider: str) -> int:
        return {
            Provider.WAR_ROOM: self.war_room_level,
            Provider.SLACK: self.slack_level,
            Provider.BRIDGE: self.bridge_level,
        }[provider]

    def providers_for(self, severity_level: int) -> list[str]:
        """The providers an incident of `severity_level` gets, in display order."""
        wanted = []
        for provider in Provider.values:
            level = self.level_for(provider)
            if level == OFF or severity_level > level:
                continue
            if provider == Provider.SLACK and not self.slack_token:
                continue
            if provider == Provider.BRIDGE and not (
                self.bridge_url_pattern or self.bridge_phone_pattern
            ):
                continue
            wanted.append(provider)
        return wanted


class IncidentChannel(OrgOwned):
    """One channel of one incident. `pending` until the provider created it, `ready` after;
    `failed` when the last attempt failed — retried at `next_attempt_at`, or given up when that
    is empty (a person can still press "retry now")."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being created"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="channels")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    name = models.CharField(max_length=120, blank=True)
    external_id = models.CharField(max_length=80, blank=True)
    url = models.CharField(max_length=500, blank=True)
    phone = models.CharField(max_length=120, blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "incident", "provider"], name="incidentchannel_one_each"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=~models.Q(status="ready"),
                name="incidentchannel_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} of incident {self.incident_id}"

    @property
    def is_given_up(self) -> bool:
        return self.status == self.Status.FAILED and self.next_attempt_at is None


class WarRoomMessage(OrgOwned):
    """One message in an incident's war room: the live stream responders write in, plus what
    Vigil posts there itself (no author): the opening line, status updates, decisions."""

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        SYSTEM = "system", "Vigil"
        STATUS_UPDATE = "status_update", "Status update"
        DECISION = "decision", "Decision"
        HANDOFF = "handoff", "Handoff"
        BROADCAST = "broadcast", "Announcement"

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="war_room_messages"
    )
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["incident", "id"], name="warroom_incident_id")]

    def __str__(self) -> str:
        return self.text[:60]


class OutboundChannelMessage(OrgOwned):
    """A message to post to an external channel (Slack), kept until it is posted: retried with
    backoff after a failure, waiting while its channel is still being created."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENT = "sent", "Posted"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(IncidentChannel, on_delete=models.CASCADE, related_name="outbound")
    text = models.TextField()
    kind = models.CharField(max_length=20, default="broadcast")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="outboundchannel_due",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]
