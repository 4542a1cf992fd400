"""Ticketing sync: an organisation's Jira or ServiceNow tracker, the ticket each mirrored
incident got there, every call Vigil makes to it (a durable row, retried with backoff) and the
tracker comments already copied to the timeline (so a redelivered webhook adds nothing)."""

import re
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from incidents.models import Incident
from taxonomy.models import SeverityLevel
from tenancy.models import OrgOwned

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,9}$")
# Only variables meant for trackers may be read: an org admin chooses both the variable and the
# address its value is sent to, so any other name (SECRET_KEY, DATABASE_URL…) is refused.
ENV_PREFIX = "VIGIL_TICKETING_"
ENV_NAME = re.compile(r"^VIGIL_TICKETING_[A-Z0-9_]{1,84}$")


def env_name_allowed(name: str) -> bool:
    return bool(ENV_NAME.fullmatch(name or ""))


TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")


def new_public_id() -> str:
    return "t" + secrets.token_urlsafe(12)


class TicketIntegration(OrgOwned):
    """A tracker the organisation mirrors incidents to. Credentials are either an environment
    reference (`env:VAR`, read at send time) or stored encrypted (Fernet, see crypto.py) and
    never rendered back. The inbound webhook secret is stored hashed and shown once."""

    class Kind(models.TextChoices):
        JIRA = "jira", "Jira"
        SERVICENOW = "servicenow", "ServiceNow"

    class AuthScheme(models.TextChoices):
        BASIC = "basic", "Basic (user or e-mail + API token / password)"
        BEARER = "bearer", "Bearer (personal access token)"

    class Mirror(models.TextChoices):
        ALL = "all", "Every incident"
        MIN_SEVERITY = "min_severity", "Incidents of at least a severity"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    is_enabled = models.BooleanField(default=True)
    base_url = models.CharField(max_length=300)
    auth_scheme = models.CharField(max_length=8, choices=AuthScheme.choices, default="basic")
    username = models.CharField("user or e-mail", max_length=200, blank=True)
    credential_env = models.CharField("credential environment variable", max_length=100, blank=True)
    credential_encrypted = models.TextField(blank=True, editable=False)
    # Jira
    project_key = models.CharField(max_length=10, blank=True)
    issue_type = models.CharField(max_length=60, blank=True, default="Task")
    resolve_transition = models.CharField(
        max_length=60, blank=True, help_text="Transition name or id used when Vigil resolves."
    )
    close_transition = models.CharField(
        max_length=60, blank=True, help_text="Transition name or id used when Vigil closes."
    )
    # ServiceNow
    table = models.CharField(max_length=80, blank=True, default="incident")
    resolved_state = models.CharField(max_length=20, blank=True, default="6")
    closed_state = models.CharField(max_length=20, blank=True, default="7")
    close_code = models.CharField(max_length=80, blank=True, default="Solved (Permanently)")
    # What to mirror
    mirror = models.CharField(max_length=12, choices=Mirror.choices, default="all")
    min_severity = models.ForeignKey(
        SeverityLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Inbound webhook
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    webhook_secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="ticket_integration_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def has_stored_credential(self) -> bool:
        return bool(self.credential_encrypted)

    def clean(self) -> None:
        errors = {}
        raw = (self.base_url or "").strip()
        if not raw.lower().startswith(("http://", "https://")):
            errors["base_url"] = "Use an http:// or https:// address."
        else:
            try:
                URLValidator(schemes=["http", "https"])(raw)
            except ValidationError:
                errors["base_url"] = "Enter a valid address, e.g. https://example.atlassian.net."
        if "?" in raw or "#" in raw:
            errors["base_url"] = "The base address takes no query or fragment."
        self.base_url = raw.rstrip("/")
        if self.credential_env and not env_name_allowed(self.credential_env):
            errors["credential_env"] = (
                f"An environment variable named {ENV_PREFIX}… (A-Z, 0-9 and _); "
                "no other variable is read."
            )
        if self.auth_scheme == self.AuthScheme.BASIC and not self.username.strip():
            errors["username"] = "Basic authentication needs the user (Jira: the e-mail)."
        if self.kind == self.Kind.SERVICENOW and self.auth_scheme != self.AuthScheme.BASIC:
            errors["auth_scheme"] = "ServiceNow's Table API is used with basic authentication."
        if self.kind == self.Kind.JIRA:
            if not PROJECT_KEY.match(self.project_key or ""):
                errors["project_key"] = (
                    "A Jira project key: 2–10 capital letters, digits or _, starting with a letter."
                )
            if not (self.issue_type or "").strip():
                errors["issue_type"] = "Name the issue type, e.g. Task or Incident."
        if self.kind == self.Kind.SERVICENOW:
            if not TABLE_NAME.match(self.table or ""):
                errors["table"] = "A table name such as incident (lower case, digits, _)."
            for field in ("resolved_state", "closed_state"):
                if not (getattr(self, field) or "").strip().isdigit():
                    errors[field] = "A state value, e.g. 6 (Resolved) or 7 (Closed)."
        if self.mirror == self.Mirror.MIN_SEVERITY and self.min_severity_id is None:
            errors["min_severity"] = "Choose the weakest severity to mirror."
        if self.min_severity_id and self.min_severity.organization_id != self.organization_id:
            errors["min_severity"] = "Choose a severity of this organisation."
        if errors:
            raise ValidationError(errors)

    def mirrors(self, incident: Incident) -> bool:
        if not self.is_enabled:
            return False
        if self.mirror == self.Mirror.ALL:
            return True
        # Level 1 is the strongest: "at least Sev-2" mirrors levels 1 and 2.
        return self.min_severity is not None and incident.severity.level <= self.min_severity.level


class TicketLink(OrgOwned):
    """The ticket an incident has in a tracker (Jira key / ServiceNow number and sys_id)."""

    integration = models.ForeignKey(
        TicketIntegration, on_delete=models.CASCADE, related_name="links"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    ticket_key = models.CharField(max_length=100)
    ticket_id = models.CharField(max_length=100, blank=True)
    url = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "incident"], name="ticket_link_one_per_incident"
            ),
            models.UniqueConstraint(
                fields=["integration", "ticket_key"], name="ticket_link_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.ticket_key


class TicketCall(OrgOwned):
    """One call to the tracker, recorded in the transaction that caused it, sent after commit
    by Celery and retried with backoff by the sweep; 4xx answers are not retried."""

    class Kind(models.TextChoices):
        CREATE = "create", "Create ticket"
        COMMENT = "comment", "Comment / work note"
        RESOLVE = "resolve", "Resolve ticket"
        CLOSE = "close", "Close ticket"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(
        TicketIntegration, on_delete=models.CASCADE, related_name="calls"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    response = models.TextField(blank=True)
    # The id the tracker gave what this call made (a Jira comment id), for echo suppression.
    remote_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="ticket_call_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.incident_id}"


class TicketComment(OrgOwned):
    """A tracker comment already copied to the timeline: the tracker's id makes it once."""

    integration = models.ForeignKey(
        TicketIntegration, on_delete=models.CASCADE, related_name="comments"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "remote_id"], name="ticket_comment_once"
            ),
        ]

    def __str__(self) -> str:
        return self.remote_id
