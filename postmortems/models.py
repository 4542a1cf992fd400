"""Post-incident reviews: which incidents need one (and why), the blameless document with its
root-cause analyses (5 Whys, Fishbone), the review workflow, action items and the knowledge
base's search vector."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from incidents.models import Incident
from tenancy.models import OrgOwned, Team, User


class PostMortemPolicy(OrgOwned):
    """One per organisation: when a post-mortem is needed and how its review is scheduled."""

    # Severity levels 1..N need one (1 = SEV-1 only, 2 = SEV-1 and SEV-2); 0 = none by severity.
    max_severity_level = models.PositiveSmallIntegerField(default=2)
    # The same service and category at least `recurrence_count` times in `recurrence_days`
    # (the incident itself included); 0 = off.
    recurrence_count = models.PositiveSmallIntegerField(default=3)
    recurrence_days = models.PositiveSmallIntegerField(default=30)
    # Incidents with a regulatory custom field filled in (taxonomy CustomFieldDefinition
    # is_regulatory) need one.
    on_regulatory = models.BooleanField(default=True)
    review_due_hours = models.PositiveSmallIntegerField(default=48)
    remind_before_hours = models.PositiveSmallIntegerField(default=12)
    escalate_after_hours = models.PositiveSmallIntegerField(default=0)  # after the due time
    approvals_required = models.PositiveSmallIntegerField(default=1)
    action_item_remind_days = models.PositiveSmallIntegerField(default=2)  # before due
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="pm_policy_one_per_org")
        ]

    def __str__(self) -> str:
        return f"Post-mortem policy of {self.organization_id}"


class PostMortemDecision(OrgOwned):
    """Whether an incident needs a post-mortem and why — the policy's decision, or a person's
    request — recorded so the incident page can show it and closing can require it."""

    class Source(models.TextChoices):
        POLICY = "policy", "Policy"
        MANUAL = "manual", "Requested"

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="postmortem_decision"
    )
    required = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.POLICY)
    requested_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.incident_id}: {'required' if self.required else 'not required'}"


class Tag(OrgOwned):
    name = models.CharField(max_length=50)
    slug = models.SlugField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="pm_tag_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name


class PostMortem(ConcurrentTransitionMixin, OrgOwned):
    """The blameless review of one incident. Sections are plain text (Markdown-ish); the
    timeline is imported from the incident's and then edited here."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"
        REVISING = "revising", "Being revised"

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="postmortem")
    status = FSMField(default=Status.DRAFT, choices=Status.choices, protected=True)
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approvers = models.ManyToManyField(User, blank=True, related_name="+")
    tags = models.ManyToManyField(Tag, blank=True, related_name="postmortems")

    # The review meeting (durable deadline: the sweeper claims rows by these columns).
    review_due_at = models.DateTimeField(null=True, blank=True)
    review_held_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    # The blameless template.
    summary = models.TextField(blank=True)
    customer_impact = models.TextField(blank=True)
    business_impact = models.TextField(blank=True)
    detection = models.TextField(blank=True)
    response = models.TextField(blank=True)
    recovery = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    what_went_well = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)
    # [{"at": ISO-8601, "text": str, "source": "incident" | "added"}], in time order.
    timeline = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    # Knowledge base: weighted title (A), summary (B), causes — whys, fishbone, contributing
    # factors — (C), the rest (D); refreshed by the services on every save of a published one.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            GinIndex(fields=["search_vector"], name="pm_search_gin"),
            models.Index(fields=["organization", "status"], name="pm_org_status"),
            models.Index(
                fields=["review_due_at"],
                name="pm_review_due",
                condition=models.Q(review_held_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    # Transitions change the state only; postmortems.services checks who may, says what is
    # missing, and does the rest (version, timestamps, the incident's timeline).
    @transition(
        field=status,
        source=[Status.DRAFT, Status.REVISING],
        target=Status.IN_REVIEW,
        conditions=[lambda pm: not _review_missing(pm, "in_review")],
    )
    def submit(self):
        pass

    @transition(
        field=status,
        source=Status.IN_REVIEW,
        target=Status.PUBLISHED,
        conditions=[lambda pm: not _review_missing(pm, "published")],
    )
    def publish(self):
        pass

    @transition(field=status, source=Status.IN_REVIEW, target=Status.DRAFT)
    def request_changes(self):
        pass

    @transition(field=status, source=Status.PUBLISHED, target=Status.REVISING)
    def revise(self):
        pass


def _review_missing(postmortem, target: str) -> list:
    from postmortems.services import missing_for

    return missing_for(postmortem, target)


class PostMortemApproval(OrgOwned):
    """An approver's verdict on one version of the document."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        CHANGES = "changes", "Changes requested"

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "approver", "version"], name="pm_one_verdict_per_version"
            )
        ]


class WhyStep(OrgOwned):
    """One link of a 5 Whys chain: why? → because."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="whys")
    position = models.PositiveSmallIntegerField()
    why = models.CharField(max_length=300)
    because = models.CharField(max_length=300)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "position"], name="pm_why_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.why} → {self.because}"


class FishboneCause(OrgOwned):
    class Category(models.TextChoices):
        PEOPLE = "people", "People"
        PROCESS = "process", "Process"
        TECHNOLOGY = "technology", "Technology"
        ENVIRONMENT = "environment", "Environment"
        MEASUREMENT = "measurement", "Measurement"
        MATERIALS = "materials", "Materials"

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="causes")
    category = models.CharField(max_length=15, choices=Category.choices)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["category", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.text}"


class ActionItem(OrgOwned):
    class Priority(models.TextChoices):
        P1 = "p1", "P1 — urgent"
        P2 = "p2", "P2 — high"
        P3 = "p3", "P3 — normal"
        P4 = "p4", "P4 — low"

    class Kind(models.TextChoices):
        PREVENT = "prevent", "Prevent"
        DETECT = "detect", "Detect"
        MITIGATE = "mitigate", "Mitigate"
        PROCESS = "process", "Process"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    postmortem = models.ForeignKey(
        PostMortem, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PREVENT)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    ticket_url = models.URLField(max_length=500, blank=True)
    ticket_key = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Durable reminders: before the due date and when overdue, once each per due date.
    reminded_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [
            models.Index(fields=["organization", "status", "due_date"], name="ai_org_status_due"),
            models.Index(fields=["owner", "status"], name="ai_owner_status"),
            models.Index(fields=["team", "status"], name="ai_team_status"),
        ]

    def __str__(self) -> str:
        return self.title
