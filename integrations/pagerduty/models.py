"""A PagerDuty service an organisation pages, and each event Vigil sends it."""

from django.db import models
from django.utils import timezone

from incidents.models import Incident
from integrations.models import new_public_id
from tenancy.models import OrgOwned


class PagerDutyService(OrgOwned):
    """A PagerDuty service integration (Events API v2) that escalation steps can page, and the
    v3 webhook subscription that reports acknowledgements back to `/hooks/pagerduty/<public_id>/`.
    Both secrets are sealed (`integrations.pagerduty.secrets`), never shown again."""

    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    routing_key = models.TextField(help_text="Sealed: fernet:<token> or env:NAME.")
    webhook_secret = models.TextField(blank=True, help_text="Sealed: fernet:<token> or env:NAME.")
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("organization", "name", name="pagerduty_service_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class PagerDutyEvent(OrgOwned):
    """One Events API v2 event (trigger or resolve) for one incident and service: a row made in
    the transaction that decided it, sent on commit, retried with backoff by the sweep on 429,
    5xx and network errors, given up on 400 (PagerDuty refused the event). The idempotency key
    (service, incident, reopen count, action) makes a repeated escalation page once."""

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        RESOLVE = "resolve", "Resolve"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    service = models.ForeignKey(PagerDutyService, on_delete=models.CASCADE, related_name="events")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    dedup_key = models.CharField(max_length=255)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="pagerduty_event_due",
            ),
        ]

    def __str__(self) -> str:
        return f"PagerDuty {self.action} {self.dedup_key}"
