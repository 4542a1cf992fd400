"""External communications: the organisation's public status page, its components,
spokespersons, pre-approved message templates, the messages customers read and the people
who subscribed to them by e-mail.

Nothing here points *to* internal data except `ExternalMessage.incident`, which links a
message to the incident it is about for the responders; the public page and feed render only
fields of these models, never the incident's."""

import secrets

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from incidents.models import Incident
from taxonomy.models import Service
from tenancy.models import OrgOwned, User


class StatusPageSettings(OrgOwned):
    """One row per organisation: whether its public page is switched on, what it is called,
    and the approval rule (four eyes unless the organisation allows self-approval)."""

    is_public = models.BooleanField(
        "public page on",
        default=False,
        help_text="Off: the public page answers “not found” and nobody can subscribe.",
    )
    title = models.CharField(
        "public title", max_length=120, blank=True, help_text="Shown as the page heading."
    )
    introduction = models.CharField(
        max_length=300, blank=True, help_text="One or two sentences under the heading."
    )
    allow_self_approval = models.BooleanField(
        default=False,
        help_text="Let a spokesperson approve a message they drafted or edited themselves. "
        "Off (the default) means four eyes: someone else approves.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "status page settings"
        verbose_name_plural = "status page settings"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="statuspage_settings_one"),
        ]

    def __str__(self) -> str:
        return self.title or "Status page"


class Spokesperson(OrgOwned):
    """A member designated to speak for the organisation: approves and publishes external
    messages."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="spokesperson_unique"),
        ]

    def __str__(self) -> str:
        return f"Spokesperson {self.user}"


class ComponentState(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    DEGRADED = "degraded", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    MAINTENANCE = "maintenance", "Under maintenance"


class Component(OrgOwned):
    """Something customers recognise on the status page ("Card payments", "Dashboard"), with
    its current state. Optionally tied to an internal service (never shown publicly)."""

    name = models.CharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(default=0, help_text="Lower numbers come first.")
    service = models.ForeignKey(
        Service,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The internal service behind it (not shown publicly).",
    )
    state = models.CharField(
        max_length=20, choices=ComponentState.choices, default=ComponentState.OPERATIONAL
    )
    state_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="statuspage_component_name_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=ComponentState.values),
                name="statuspage_component_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        self.check_same_organization(service=self.service)


class PublicStatus(models.TextChoices):
    """Where the story stands, in the words status pages use."""

    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    MAINTENANCE = "maintenance", "Maintenance"


class MessageTemplate(OrgOwned):
    """Pre-approved wording for a message. Title and body may use only the placeholders in
    `incidents.statuspage.placeholders` — all of them public facts of the message itself."""

    name = models.CharField(max_length=80)
    status = models.CharField(
        "suggested status",
        max_length=20,
        choices=PublicStatus.choices,
        default=PublicStatus.INVESTIGATING,
    )
    title = models.CharField(max_length=160)
    body = models.TextField(max_length=4000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("name"), name="statuspage_template_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MessageState(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"


class ExternalMessage(ConcurrentTransitionMixin, OrgOwned):
    """A message for customers: drafted by a responder, approved by a spokesperson, then
    published on the status page, its feed and to e-mail subscribers. Its state changes only
    through the transitions below; `incidents.statuspage.services` checks who may."""

    title = models.CharField(max_length=160)
    body = models.TextField(max_length=4000)
    status = models.CharField(
        max_length=20, choices=PublicStatus.choices, default=PublicStatus.INVESTIGATING
    )
    next_update_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="external_messages",
    )
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = FSMField(default=MessageState.DRAFT, choices=MessageState.choices, protected=True)
    drafted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    edited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "-published_at"],
                condition=models.Q(state="published"),
                name="statuspage_message_published",
            ),
            models.Index(fields=["organization", "state", "-created_at"], name="statuspage_msg"),
            models.Index(fields=["organization", "incident"], name="statuspage_msg_incident"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        self.check_same_organization(incident=self.incident, template=self.template)

    @property
    def authors(self) -> set[int]:
        """Who wrote the words: the drafter and the last editor."""
        return {pk for pk in (self.drafted_by_id, self.edited_by_id) if pk}

    @transition(field=state, source=MessageState.DRAFT, target=MessageState.APPROVED)
    def approve(self):
        pass

    @transition(field=state, source=MessageState.APPROVED, target=MessageState.DRAFT)
    def revise(self):
        pass

    @transition(field=state, source=MessageState.APPROVED, target=MessageState.PUBLISHED)
    def publish(self):
        pass


class MessageComponent(OrgOwned):
    """A component a message is about, and the state the message puts it in when published."""

    message = models.ForeignKey(ExternalMessage, on_delete=models.CASCADE, related_name="affected")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=20, choices=ComponentState.choices)

    class Meta:
        ordering = ["component__order", "component__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "component"], name="statuspage_message_component_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.component}: {self.get_state_display()}"


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


class Subscriber(OrgOwned):
    """An e-mail address that asked for the organisation's status updates. Double opt-in:
    nothing is sent to it but the confirmation until `confirmed_at` is set. The address is
    personal data: it appears on no public page and in no audit entry."""

    email = models.EmailField(max_length=254)
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("email"), name="statuspage_subscriber_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization"],
                condition=models.Q(confirmed_at__isnull=False),
                name="statuspage_subscriber_active",
            ),
        ]

    def __str__(self) -> str:
        return f"Subscriber {self.pk}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None
