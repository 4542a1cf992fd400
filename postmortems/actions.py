"""Action items: the selectors that decide who sees which, the services that add and change
them (each audited and noted on the incident's timeline), the durable reminder sweep and the
remediation completion rate.

Visibility: an action item follows its post-mortem, which follows its incident — admins see
every item; others see items of unrestricted incidents and of restricted ones granted to them.

Reminders: an open item with a due date gets one reminder to its owner
`PostMortemPolicy.action_item_remind_days` days before it is due and one notice when it is
overdue (the day after the due date, in the organisation's time zone); each fires once per due
date, because the sweeper claims rows with SKIP LOCKED and marks them in the transaction that
notifies. Changing the due date re-arms both. An overdue item without an owner (or whose
owner left) is escalated to its team's members, or to the organisation's managers when it has
no team."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate, TruncMonth, TruncQuarter
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import notify
from incidents.models import Incident, TimelineEvent
from incidents.selectors import visibility_filter
from incidents.services import member_ids, record
from postmortems.models import ActionItem, PostMortem, PostMortemPolicy
from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Capability, Role, can
from tenancy.scoping import org_scope

Status = ActionItem.Status
OPEN = (Status.OPEN, Status.IN_PROGRESS)
FINISHED = (Status.DONE, Status.WONT_DO)
TITLE_LIMIT = 200
DESCRIPTION_LIMIT = 5000
TICKET_URL_LIMIT = 500
TICKET_KEY_LIMIT = 50
DEFAULT_REMIND_DAYS = 2
CHUNK = 20
EDITABLE = (
    "title",
    "description",
    "owner",
    "team",
    "due_date",
    "priority",
    "kind",
    "ticket_url",
    "ticket_key",
)
TIMELINE_KIND = TimelineEvent.Kind.POSTMORTEM


# — helpers ——————————————————————————————————————————————————————————————————————————


def local_today(organization: Organization, now: datetime | None = None) -> date:
    """Today in the organisation's time zone: due dates are the organisation's calendar days."""
    return timezone.localtime(now or timezone.now(), organization.tzinfo).date()


def _membership(organization: Organization, user: User | None) -> Membership | None:
    if user is None or not user.is_authenticated:
        return None
    return (
        Membership.objects.with_scopes_disabled()  # the user's membership in this org only
        .filter(organization=organization, user=user)
        .first()
    )


def _visible_incidents(
    organization: Organization, user: User, membership: Membership | None
) -> QuerySet[Incident]:
    return Incident.objects.filter(organization=organization).filter(
        visibility_filter(user=user, membership=membership)
    )


def may_see_incident(organization: Organization, user: User, incident: Incident) -> bool:
    membership = _membership(organization, user)
    if membership is None or incident.organization_id != organization.pk:
        return False
    if membership.role == Role.ADMIN or not incident.is_restricted:
        return True
    with org_scope(organization):
        return _visible_incidents(organization, user, membership).filter(pk=incident.pk).exists()


def item_path(item: ActionItem) -> str:
    return reverse(
        "postmortems:action_item_detail",
        kwargs={"org_slug": item.organization.slug, "pk": item.pk},
    )


def _due_text(value: date | None) -> str:
    return value.isoformat() if value else "no due date"


# — selectors ————————————————————————————————————————————————————————————————————————


def action_item_list(
    *,
    organization: Organization,
    user: User,
    membership: Membership | None = None,
    today: date | None = None,
) -> QuerySet[ActionItem]:
    """Every action item of `organization` whose incident `user` may see, annotated with
    `is_overdue` (open and due before today in the organisation's time zone)."""
    membership = membership or _membership(organization, user)
    today = today or local_today(organization)
    items = ActionItem.objects.filter(organization=organization)
    if membership is None:
        return items.none()
    if membership.role != Role.ADMIN:
        items = items.filter(
            postmortem__incident__in=_visible_incidents(organization, user, membership).values("pk")
        )
    return items.select_related("owner", "team", "postmortem__incident__severity").annotate(
        is_overdue=Case(
            When(status__in=OPEN, due_date__lt=today, then=Value(True)),
            default=Value(False),
        )
    )


def my_action_items(
    *, organization: Organization, user: User, membership=None, today: date | None = None
) -> QuerySet[ActionItem]:
    """The user's own items: open ones first (overdue, then by due date, undated last), then
    finished ones, most recently changed first."""
    return (
        action_item_list(organization=organization, user=user, membership=membership, today=today)
        .filter(owner=user)
        .annotate(
            is_finished=Case(When(status__in=FINISHED, then=Value(True)), default=Value(False))
        )
        .order_by(
            "is_finished",
            F("due_date").asc(nulls_last=True),
            "-updated_at",
            "pk",
        )
    )


def postmortem_get(*, organization: Organization, user: User, pk: int) -> PostMortem | None:
    """A post-mortem the user may see (its incident's visibility), or None."""
    membership = _membership(organization, user)
    if membership is None:
        return None
    rows = PostMortem.objects.filter(organization=organization, pk=pk)
    if membership.role != Role.ADMIN:
        rows = rows.filter(
            incident__in=_visible_incidents(organization, user, membership).values("pk")
        )
    return rows.select_related("incident").first()


# — services —————————————————————————————————————————————————————————————————————————


def _require_edit(postmortem: PostMortem, actor: User | None) -> None:
    organization = postmortem.organization
    membership = _membership(organization, actor)
    if membership is None or not can(membership.role, Capability.UPDATE_INCIDENTS):
        raise PermissionDenied("Your role may not change action items.")
    if not may_see_incident(organization, actor, postmortem.incident):
        raise PermissionDenied("You may not see this incident.")


_KEY_PATTERN = re.compile(r"^[\w .#:/-]+$")


def _clean(
    organization: Organization,
    values: dict,
    *,
    today: date,
    due_changed: bool,
    owner_changed: bool = True,
) -> dict:
    """Check and normalise the editable fields; raise one ValidationError naming each
    problem."""
    errors: dict[str, str] = {}
    cleaned = dict(values)
    title = (values.get("title") or "").strip()
    if not title:
        errors["title"] = "Say what needs doing."
    elif len(title) > TITLE_LIMIT:
        errors["title"] = f"At most {TITLE_LIMIT} characters."
    cleaned["title"] = title
    description = (values.get("description") or "").strip()
    if len(description) > DESCRIPTION_LIMIT:
        errors["description"] = f"At most {DESCRIPTION_LIMIT:,} characters."
    cleaned["description"] = description

    owner = values.get("owner")
    if owner is not None and owner_changed:
        if not isinstance(owner, User) or owner.pk not in member_ids(organization):
            errors["owner"] = "Choose a member of this organisation."
        elif not owner.is_active:
            errors["owner"] = "That person's account is deactivated."
    team = values.get("team")
    if team is not None and (not isinstance(team, Team) or team.organization_id != organization.pk):
        errors["team"] = "Choose one of this organisation's teams."

    due_date = values.get("due_date")
    if due_date is not None:
        if not isinstance(due_date, date) or isinstance(due_date, datetime):
            errors["due_date"] = "Give a date (YYYY-MM-DD)."
        elif due_changed and due_date < today:
            errors["due_date"] = (
                f"The due date is in the past (today is {today.isoformat()} in "
                f"{organization.timezone})."
            )

    priority = values.get("priority") or ActionItem.Priority.P3
    if priority not in ActionItem.Priority.values:
        errors["priority"] = "Choose P1, P2, P3 or P4."
    cleaned["priority"] = priority
    kind = values.get("kind") or ActionItem.Kind.PREVENT
    if kind not in ActionItem.Kind.values:
        errors["kind"] = "Choose prevent, detect, mitigate or process."
    cleaned["kind"] = kind

    ticket_url = (values.get("ticket_url") or "").strip()
    if ticket_url:
        if len(ticket_url) > TICKET_URL_LIMIT:
            errors["ticket_url"] = f"At most {TICKET_URL_LIMIT} characters."
        elif urlsplit(ticket_url).scheme.lower() not in ("http", "https"):
            errors["ticket_url"] = "Only http:// or https:// links to a ticket."
        else:
            try:
                URLValidator(schemes=["http", "https"])(ticket_url)
            except ValidationError:
                errors["ticket_url"] = "Enter a full web address (https://…)."
    cleaned["ticket_url"] = ticket_url
    ticket_key = (values.get("ticket_key") or "").strip()
    if len(ticket_key) > TICKET_KEY_LIMIT:
        errors["ticket_key"] = f"At most {TICKET_KEY_LIMIT} characters."
    elif ticket_key and not _KEY_PATTERN.match(ticket_key):
        errors["ticket_key"] = "Letters, digits, spaces and . # : / - _ only (e.g. OPS-123)."
    cleaned["ticket_key"] = ticket_key
    if errors:
        raise ValidationError(errors)
    return cleaned


def _summary(item: ActionItem) -> str:
    parts = [f"owner {item.owner or 'none'}"]
    if item.team_id:
        parts.append(f"team {item.team}")
    parts.append(f"due {_due_text(item.due_date)}")
    parts.append(item.get_priority_display().split(" ")[0])
    return ", ".join(parts)


@transaction.atomic
def action_item_create(
    *,
    postmortem: PostMortem,
    actor: User,
    title: str,
    description: str = "",
    owner: User | None = None,
    team: Team | None = None,
    due_date: date | None = None,
    priority: str = ActionItem.Priority.P3,
    kind: str = ActionItem.Kind.PREVENT,
    ticket_url: str = "",
    ticket_key: str = "",
    now: datetime | None = None,
) -> ActionItem:
    """Add an action item to a post-mortem (people who may update incidents and see this
    one). The owner must be a member, the team the organisation's, the due date not past."""
    now = now or timezone.now()
    organization = postmortem.organization
    with org_scope(organization):
        _require_edit(postmortem, actor)
        fields = _clean(
            organization,
            {
                "title": title,
                "description": description,
                "owner": owner,
                "team": team,
                "due_date": due_date,
                "priority": priority,
                "kind": kind,
                "ticket_url": ticket_url,
                "ticket_key": ticket_key,
            },
            today=local_today(organization, now),
            due_changed=True,
        )
        item = ActionItem(
            organization=organization, postmortem=postmortem, created_at=now, **fields
        )
        item.full_clean()
        item.save()
        record(
            postmortem.incident,
            kind=TIMELINE_KIND,
            actor=actor,
            message=f"Action item added: “{item.title}” ({_summary(item)})",
            action_item_id=item.pk,
            postmortem_id=postmortem.pk,
        )
    return item


def _lock_item(item: ActionItem) -> ActionItem:
    return (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related("postmortem__incident", "owner", "team")
        .get(pk=item.pk, organization_id=item.organization_id)
    )


def _display(item: ActionItem, name: str) -> str:
    value = getattr(item, name)
    if name == "priority":
        return item.get_priority_display()
    if name == "kind":
        return item.get_kind_display()
    if name == "due_date":
        return _due_text(value)
    if name == "description":
        return "(changed)"
    if value in (None, ""):
        return "none"
    return str(value)


@transaction.atomic
def action_item_update(
    *, item: ActionItem, actor: User, changes: dict, now: datetime | None = None
) -> ActionItem:
    """Change an item's fields. A new due date may not be in the past and re-arms both
    reminders (each fires once per due date). Noted on the incident's timeline."""
    now = now or timezone.now()
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    organization = item.organization
    with org_scope(organization):
        item = _lock_item(item)
        _require_edit(item.postmortem, actor)
        merged = {name: getattr(item, name) for name in EDITABLE}
        merged.update(changes)
        fields = _clean(
            organization,
            merged,
            today=local_today(organization, now),
            due_changed=merged["due_date"] != item.due_date,
            owner_changed=getattr(merged["owner"], "pk", None) != item.owner_id,
        )
        changed = []
        for name in EDITABLE:
            old = _display(item, name)
            current = getattr(item, name)
            new_value = fields[name]
            if (current.pk if hasattr(current, "pk") else current) == (
                new_value.pk if hasattr(new_value, "pk") else new_value
            ):
                continue
            if name == "due_date":
                item.reminded_at = None
                item.overdue_notified_at = None
            setattr(item, name, new_value)
            changed.append(
                f"{name.replace('_', ' ')} {old} → {_display(item, name)}"
                if name != "description"
                else "description changed"
            )
        if not changed:
            return item
        item.full_clean()
        item.save()
        record(
            item.postmortem.incident,
            kind=TIMELINE_KIND,
            actor=actor,
            message=f"Action item “{item.title}” changed: {'; '.join(changed)}",
            action_item_id=item.pk,
            postmortem_id=item.postmortem_id,
        )
    return item


@transaction.atomic
def action_item_set_status(
    *, item: ActionItem, actor: User, status: str, now: datetime | None = None
) -> ActionItem:
    """Move an item to open, in progress, done or won't do. People who may update incidents
    may; so may the item's owner (any role). Done records when; reopening clears it."""
    now = now or timezone.now()
    if status not in Status.values:
        raise ValidationError({"status": "Choose open, in progress, done or won't do."})
    organization = item.organization
    with org_scope(organization):
        item = _lock_item(item)
        membership = _membership(organization, actor)
        is_owner = actor is not None and item.owner_id == actor.pk
        if membership is None or not (
            is_owner or can(membership.role, Capability.UPDATE_INCIDENTS)
        ):
            raise PermissionDenied("Only the owner or people who may update incidents may.")
        if not may_see_incident(organization, actor, item.postmortem.incident):
            raise PermissionDenied("You may not see this incident.")
        if item.status == status:
            raise ValidationError(f"It is {item.get_status_display().lower()} already.")
        previous = item.get_status_display()
        item.status = status
        if status == Status.DONE:
            item.completed_at = now
        else:
            item.completed_at = None
        item.save()
        record(
            item.postmortem.incident,
            kind=TIMELINE_KIND,
            actor=actor,
            message=f"Action item “{item.title}”: {previous} → {item.get_status_display()}",
            action_item_id=item.pk,
            postmortem_id=item.postmortem_id,
            status=status,
        )
    return item


# — the reminder sweep ———————————————————————————————————————————————————————————————


def remind_days(organization: Organization) -> int:
    with org_scope(organization):
        days = (
            PostMortemPolicy.objects.filter(organization=organization)
            .values_list("action_item_remind_days", flat=True)
            .first()
        )
    return DEFAULT_REMIND_DAYS if days is None else days


def _managers(organization_id: int) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(
            organization_id=organization_id, role__in=[Role.MANAGER, Role.ADMIN]
        ).select_related("user")
    ]


def _owner_reachable(item: ActionItem) -> bool:
    owner = item.owner
    return (
        owner is not None
        and owner.is_active
        and Membership.objects.filter(organization_id=item.organization_id, user=owner).exists()
    )


def _escalation_people(item: ActionItem) -> tuple[list[User], str]:
    if item.team_id:
        people = list(item.team.members.filter(is_active=True))
        if people:
            return people, f"team {item.team}"
    return _managers(item.organization_id), "the managers"


def _remind(item: ActionItem, at: datetime, today: date) -> None:
    incident = item.postmortem.incident
    item.reminded_at = at
    item.save(update_fields=["reminded_at"])
    left = (item.due_date - today).days
    when = "today" if left <= 0 else ("tomorrow" if left == 1 else f"in {left} days")
    notify.notify_users(
        organization=item.organization,
        users=[item.owner],
        kind="action_item_due",
        title=f"{incident.key} · action item due {when}: {item.title}"[:200],
        body=f"“{item.title}” from the post-mortem of {incident.key} is due "
        f"{item.due_date.isoformat()}. Finish it, or change its due date.",
        incident=incident,
        url=item_path(item),
        key=f"action-item:{item.pk}:due:{item.due_date.isoformat()}",
        now=at,
    )


def _overdue(item: ActionItem, at: datetime, today: date) -> None:
    incident = item.postmortem.incident
    item.overdue_notified_at = at
    item.reminded_at = item.reminded_at or at  # never a "due soon" after "overdue"
    item.save(update_fields=["overdue_notified_at", "reminded_at"])
    due = item.due_date.isoformat()
    if _owner_reachable(item):
        people, kind = [item.owner], "action_item_overdue"
        message = f"Action item “{item.title}” is overdue (was due {due}; owner {item.owner})"
    else:
        people, whom = _escalation_people(item)
        kind = "action_item_escalation"
        message = (
            f"Action item “{item.title}” is overdue (was due {due}) and has no owner; "
            f"escalated to {whom}"
        )
    record(
        incident,
        kind=TIMELINE_KIND,
        actor=None,
        message=message,
        action_item_id=item.pk,
        postmortem_id=item.postmortem_id,
        overdue=True,
    )
    notify.notify_users(
        organization=item.organization,
        users=people,
        kind=kind,
        title=f"{incident.key} · action item overdue: {item.title}"[:200],
        body=(
            f"“{item.title}” from the post-mortem of {incident.key} was due {due}."
            + ("" if kind == "action_item_overdue" else " It has no owner: assign one.")
        ),
        incident=incident,
        url=item_path(item),
        key=f"action-item:{item.pk}:overdue:{due}",
        now=at,
    )


def _claim(organization_id: int, condition: Q, size: int) -> list[ActionItem]:
    return list(
        ActionItem.objects.filter(
            condition, organization_id=organization_id, status__in=OPEN, due_date__isnull=False
        )
        .select_for_update(skip_locked=True, of=("self",))
        .select_related(
            "organization",
            "owner",
            "team",
            "postmortem__incident__organization",
            "postmortem__incident__severity",
        )  # fmt: skip
        .order_by("due_date", "pk")[:size]
    )


def _org_pass(organization: Organization, condition_for, act, moment, budget: int) -> int:
    done = 0
    while done < budget:
        at = moment()
        today = local_today(organization, at)
        with transaction.atomic(), org_scope(organization):
            rows = _claim(organization.pk, condition_for(today), min(CHUNK, budget - done))
            for row in rows:
                act(row, at, today)
        done += len(rows)
        if not rows:
            break
    return done


def sweep_action_items(*, now=None, limit: int = 200) -> int:
    """Remind owners before the due date and when overdue, once each. Returns how many."""
    fixed = now is not None

    def moment():
        return now if fixed else timezone.now()

    waiting = Q(overdue_notified_at__isnull=True) | Q(reminded_at__isnull=True, owner__isnull=False)
    with scopes_disabled():  # which organisations have items waiting; each acts in its scope
        org_ids = list(
            ActionItem.objects.filter(waiting, status__in=OPEN, due_date__isnull=False)
            .order_by()
            .values_list("organization_id", flat=True)
            .distinct()
        )
        organizations = list(Organization.objects.filter(pk__in=org_ids).order_by("pk"))
    done = 0
    for organization in organizations:
        if done >= limit:
            break
        days = remind_days(organization)
        done += _org_pass(
            organization,
            lambda today: Q(due_date__lt=today, overdue_notified_at__isnull=True),
            _overdue,
            moment,
            limit - done,
        )
        if done >= limit:
            break
        done += _org_pass(
            organization,
            lambda today, days=days: Q(
                due_date__lte=today + timedelta(days=days),
                reminded_at__isnull=True,
                overdue_notified_at__isnull=True,
                owner__isnull=False,
            ),
            _remind,
            moment,
            limit - done,
        )
    return done


# — remediation completion rate ——————————————————————————————————————————————————————

GRANULARITIES = {"month": "Month", "quarter": "Quarter"}


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter of the organisation's calendar: [start, end)."""

    granularity: str
    start: date

    @property
    def end(self) -> date:
        months = 1 if self.granularity == "month" else 3
        year, month = divmod(self.start.month - 1 + months, 12)
        return date(self.start.year + year, month + 1, 1)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def code(self) -> str:
        if self.granularity == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    @property
    def label(self) -> str:
        if self.granularity == "month":
            return f"{calendar.month_name[self.start.month]} {self.start.year}"
        return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"

    def shift(self, steps: int) -> Period:
        months = steps * (1 if self.granularity == "month" else 3)
        year, month = divmod(self.start.month - 1 + months, 12)
        return Period(self.granularity, date(self.start.year + year, month + 1, 1))

    @classmethod
    def containing(cls, granularity: str, day: date) -> Period:
        if granularity == "month":
            return cls(granularity, day.replace(day=1))
        return cls(granularity, date(day.year, (day.month - 1) // 3 * 3 + 1, 1))

    @classmethod
    def parse(cls, granularity: str, code: str | None, today: date) -> Period:
        """`2026-11` (month) or `2026-Q4` (quarter); the current period when empty. Raises
        ValidationError for anything else."""
        if granularity not in GRANULARITIES:
            raise ValidationError("Choose month or quarter.")
        if not code:
            return cls.containing(granularity, today)
        # Either form is understood whatever the granularity, so switching from months to
        # quarters on the page keeps the period: 2026-11 by quarter is 2026-Q4.
        code = code.strip()
        as_month = re.fullmatch(r"(\d{4})-(\d{2})", code)
        as_quarter = re.fullmatch(r"(\d{4})-[Qq]([1-4])", code)
        if not (as_month or as_quarter):
            example = "2026-11" if granularity == "month" else "2026-Q4"
            raise ValidationError(f"Give the period as {example}.")
        match = as_month or as_quarter
        year, number = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= 2100 or (as_month and not 1 <= number <= 12):
            raise ValidationError("That period is out of range.")
        month = number if as_month else (number - 1) * 3 + 1
        return cls.containing(granularity, date(year, month, 1))


@dataclass
class Tally:
    """Items due in one period (for one team, or all): how they ended up."""

    due: int = 0
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0
    open_not_due: int = 0
    wont_do: int = 0

    @property
    def open(self) -> int:
        return self.open_overdue + self.open_not_due

    @property
    def counted(self) -> int:
        """The rate's denominator: due in the period, won't-do excluded."""
        return self.due - self.wont_do

    @property
    def rate(self) -> float | None:
        """On time ÷ (due − won't do); None when nothing counts."""
        return self.on_time / self.counted if self.counted else None

    @property
    def percent(self) -> str:
        return "—" if self.rate is None else f"{self.rate * 100:.0f} %"

    def add(self, other: Tally) -> None:
        for name in ("due", "on_time", "late", "open_overdue", "open_not_due", "wont_do"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class TeamRow:
    team_id: int | None
    name: str
    by_period: dict[date, Tally] = field(default_factory=dict)
    undated: int = 0
    undated_open: int = 0

    def tally(self, period: Period) -> Tally:
        return self.by_period.get(period.start) or Tally()


def completion_tallies(
    items: QuerySet[ActionItem],
    *,
    organization: Organization,
    granularity: str,
    start: date,
    end: date,
    today: date,
) -> list[dict]:
    """One aggregate query: per team and period (by due date, start ≤ due < end), how many
    were due, done on time (completed on or before the due date, in the organisation's time
    zone), done late, still open (overdue or not yet due) and won't do."""
    trunc = TruncMonth if granularity == "month" else TruncQuarter
    return list(
        items.filter(due_date__gte=start, due_date__lt=end)
        .annotate(
            completed_on=TruncDate("completed_at", tzinfo=organization.tzinfo),
            period=trunc("due_date"),
        )
        .values("team_id", "team__name", "period")
        .annotate(
            due=Count("pk"),
            done=Count("pk", filter=Q(status=Status.DONE)),
            on_time=Count("pk", filter=Q(status=Status.DONE, completed_on__lte=F("due_date"))),
            open_overdue=Count("pk", filter=Q(status__in=OPEN, due_date__lt=today)),
            open_not_due=Count("pk", filter=Q(status__in=OPEN, due_date__gte=today)),
            wont_do=Count("pk", filter=Q(status=Status.WONT_DO)),
        )
        .order_by()
    )


def completion_report(
    items: QuerySet[ActionItem],
    *,
    organization: Organization,
    period: Period,
    trend: int = 6,
    today: date,
) -> dict:
    """The completion-rate page's numbers: per team for `period` and the `trend` periods up to
    it, a total row, and items without a due date per team. Two aggregate queries."""
    periods = [period.shift(-n) for n in range(trend - 1, -1, -1)]
    rows: dict[int | None, TeamRow] = {}
    for entry in completion_tallies(
        items,
        organization=organization,
        granularity=period.granularity,
        start=periods[0].start,
        end=period.end,
        today=today,
    ):
        row = rows.setdefault(
            entry["team_id"], TeamRow(entry["team_id"], entry["team__name"] or "No team")
        )
        row.by_period[entry["period"]] = Tally(
            due=entry["due"],
            on_time=entry["on_time"],
            late=entry["done"] - entry["on_time"],
            open_overdue=entry["open_overdue"],
            open_not_due=entry["open_not_due"],
            wont_do=entry["wont_do"],
        )
    for entry in (
        items.filter(due_date__isnull=True)
        .values("team_id", "team__name")
        .annotate(count=Count("pk"), open=Count("pk", filter=Q(status__in=OPEN)))
        .order_by()
    ):
        row = rows.setdefault(
            entry["team_id"], TeamRow(entry["team_id"], entry["team__name"] or "No team")
        )
        row.undated, row.undated_open = entry["count"], entry["open"]
    ordered = sorted(rows.values(), key=lambda r: (r.team_id is None, r.name.lower()))
    total = TeamRow(None, "All teams")
    for row in ordered:
        for start, tally in row.by_period.items():
            total.by_period.setdefault(start, Tally()).add(tally)
        total.undated += row.undated
        total.undated_open += row.undated_open
    return {"period": period, "periods": periods, "rows": ordered, "total": total}
