"""Notifications: the in-app inbox, deliveries per channel (with retries), preferences, and
the organisation's outbound chat webhook."""

import datetime

from django.db import models
from django.utils import timezone

from incidents.models.incident import Incident
from tenancy.models import OrgOwned, User


class Notification(OrgOwned):
    """Something a person should know; always in their inbox, and delivered to their other
    channels as their preferences say."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    severity_level = models.PositiveSmallIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["recipient", "organization", "-created_at"], name="notification_inbox"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Delivery(OrgOwned):
    """One attempt-tracked delivery of a notification (or a chat message) on one channel.
    Retried with backoff; failures never block what caused them."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        CHAT = "chat", "Chat webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=300, help_text="E-mail address or webhook URL.")
    payload = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.target} ({self.get_status_display()})"


class NotificationPreference(OrgOwned):
    """Per person and organisation: which channels, and quiet hours (Sev-1 still gets through)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    email = models.BooleanField(default=True)
    chat = models.BooleanField(default=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="Defaults to the org's.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="preference_one"),
        ]

    def __str__(self) -> str:
        return f"Preferences of {self.user}"

    def in_quiet_hours(self, when: datetime.datetime, default_tz) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        import zoneinfo

        tz = zoneinfo.ZoneInfo(self.timezone) if self.timezone else default_tz
        local = when.astimezone(tz).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end  # over midnight


class ChatWebhook(OrgOwned):
    """An outbound Slack-compatible incoming webhook that hears about incidents."""

    name = models.CharField(max_length=80)
    url = models.URLField(max_length=300)
    min_severity_level = models.PositiveSmallIntegerField(
        default=4, help_text="Post incidents of this severity level or stronger (1 = SEV-1)."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
