"""Every write to a post-mortem document: its sections, timeline, tags, approvers, the 5 Whys
and the fishbone causes, and the review workflow (draft → in review → published → revising →
in review …). Each checks the acting user's capability, runs in one transaction, and puts
workflow steps on the incident's timeline; the audit trail records every row change."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify
from django_fsm import can_proceed

from incidents.lifecycle import Missing
from incidents.models import ImpactPeriod, Incident
from incidents.services import _require, member_ids, record
from postmortems import search
from postmortems.models import (
    ActionItem,
    FishboneCause,
    PostMortem,
    PostMortemApproval,
    Tag,
    WhyStep,
)
from postmortems.policy import TIMELINE_KIND, policy_for
from postmortems.scheduling import imported_timeline
from tenancy.models import User
from tenancy.roles import Capability
from tenancy.scoping import org_scope

SECTION_FIELDS = (
    "title",
    "summary",
    "customer_impact",
    "business_impact",
    "detection",
    "response",
    "recovery",
    "contributing_factors",
    "what_went_well",
    "lessons_learned",
)
SECTION_CHARS = 20_000
TIMELINE_ROWS = 500
TIMELINE_TEXT_CHARS = 1000
MAX_WHYS = 15
MAX_CAUSES_PER_CATEGORY = 12
MAX_TAGS = 20
MAX_APPROVERS = 10
EDITABLE_STATES = (PostMortem.Status.DRAFT, PostMortem.Status.REVISING)

# The workflow as the page offers it: name → (label, who).
TRANSITIONS = {
    "submit": "Submit for review",
    "publish": "Publish",
    "request_changes": "Back to draft",
    "revise": "Start a revision",
}


class ReviewMissing(ValidationError):
    """A workflow step is blocked; `missing` names each thing that stops it."""

    def __init__(self, missing: list[Missing]):
        self.missing = missing
        super().__init__("Missing: " + ", ".join(m.label for m in missing))


# — helpers ——————————————————————————————————————————————————————————————————————————


def _lock(postmortem: PostMortem) -> PostMortem:
    with org_scope(postmortem.organization_id):
        return (
            PostMortem.objects.select_for_update(of=("self",))
            .select_related("incident", "incident__organization", "incident__severity")
            .get(pk=postmortem.pk)
        )


def _require_edit(postmortem: PostMortem, actor: User) -> PostMortem:
    _require(postmortem.incident.organization, actor, Capability.UPDATE_INCIDENTS)
    locked = _lock(postmortem)
    if locked.status not in EDITABLE_STATES:
        if locked.status == PostMortem.Status.IN_REVIEW:
            raise ValidationError(
                "The post-mortem is in review: it cannot change while approvers read it. "
                "Request changes to send it back to draft."
            )
        raise ValidationError("The post-mortem is published: start a revision to change it.")
    return locked


def _touch(postmortem: PostMortem) -> None:
    postmortem.save(update_fields=["updated_at"])


def _text(value, field: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip() if isinstance(value, str) else value
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Text expected."})
    if required and not value:
        raise ValidationError({field: "This cannot be empty."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters."})
    return value


def _timeline_event(postmortem: PostMortem, actor: User | None, message: str, **data) -> None:
    record(
        postmortem.incident,
        kind=TIMELINE_KIND,
        actor=actor,
        message=message,
        postmortem_id=postmortem.pk,
        **data,
    )


# — impact ————————————————————————————————————————————————————————————————————————————


@dataclass
class Impact:
    periods: list  # [(number, started_at, ended_at or None, minutes)]
    total_minutes: int
    ongoing: bool


def impact_of(incident: Incident, *, now: datetime | None = None) -> Impact:
    """Customer impact as the incident's impact periods measure it."""
    now = now or timezone.now()
    with org_scope(incident.organization_id):
        periods = list(ImpactPeriod.objects.filter(incident_id=incident.pk).order_by("number"))
    rows, total = [], timedelta()
    for period in periods:
        span = (period.ended_at or now) - period.started_at
        total += span
        rows.append(
            (period.number, period.started_at, period.ended_at, int(span.total_seconds() // 60))
        )
    return Impact(rows, int(total.total_seconds() // 60), any(p.ended_at is None for p in periods))


# — requirements ——————————————————————————————————————————————————————————————————————

REQUIRED_SECTIONS = (
    ("summary", "summary"),
    ("detection", "detection"),
    ("response", "response"),
    ("recovery", "recovery"),
)


def eligible_approvals(postmortem: PostMortem) -> list[PostMortemApproval]:
    """Approvals of the current version by approvers who are not the owner."""
    with org_scope(postmortem.organization_id):
        approvers = set(postmortem.approvers.values_list("pk", flat=True))
        return [
            a
            for a in PostMortemApproval.objects.filter(
                postmortem_id=postmortem.pk,
                version=postmortem.version,
                decision=PostMortemApproval.Decision.APPROVED,
            ).select_related("approver")
            if a.approver_id in approvers and a.approver_id != postmortem.owner_id
        ]


def missing_for(postmortem: PostMortem, target: str) -> list[Missing]:
    """What stops `postmortem` from entering `target`, in words its owner understands."""
    missing = []
    if target == PostMortem.Status.IN_REVIEW:
        for field, label in REQUIRED_SECTIONS:
            if not getattr(postmortem, field).strip():
                missing.append(Missing(field, label))
            if field == "summary" and not (
                postmortem.customer_impact.strip() or postmortem.business_impact.strip()
            ):
                missing.append(Missing("impact", "customer or business impact"))
        with org_scope(postmortem.organization_id):
            has_cause = (
                bool(postmortem.contributing_factors.strip())
                or WhyStep.objects.filter(postmortem_id=postmortem.pk).exists()
                or FishboneCause.objects.filter(postmortem_id=postmortem.pk).exists()
            )
            has_action = ActionItem.objects.filter(postmortem_id=postmortem.pk).exists()
            approvers = postmortem.approvers.exclude(pk=postmortem.owner_id).count()
        if not has_cause:
            missing.append(
                Missing("cause", "a contributing factor, a 5-Whys step or a fishbone cause")
            )
        if not has_action:
            missing.append(Missing("action_item", "at least one action item"))
        needed = policy_for(postmortem.organization_id).approvals_required
        if approvers < needed:
            missing.append(
                Missing(
                    "approvers",
                    f"{needed} approver{'s' if needed != 1 else ''} besides the owner",
                )
            )
    elif target == PostMortem.Status.PUBLISHED:
        needed = policy_for(postmortem.organization_id).approvals_required
        have = len(eligible_approvals(postmortem))
        if have < needed:
            missing.append(
                Missing(
                    "approvals",
                    f"{needed - have} more approval{'s' if needed - have != 1 else ''} of "
                    f"version {postmortem.version} ({have} of {needed})",
                )
            )
    return missing


def available_transitions(postmortem: PostMortem, user: User, role: str | None) -> list[dict]:
    """The workflow steps possible now, with what is missing — for the page's buttons."""
    from tenancy.roles import can

    allowed = can(role, Capability.UPDATE_INCIDENTS)
    options = []
    for name, label in TRANSITIONS.items():
        method = getattr(postmortem, name)
        if not can_proceed(method, check_conditions=False):
            continue
        target = method._django_fsm.get_transition(postmortem.status).target
        options.append(
            {
                "name": name,
                "label": label,
                "missing": missing_for(postmortem, target),
                "allowed": allowed,
            }
        )
    return options


# — the workflow ——————————————————————————————————————————————————————————————————————


@transaction.atomic
def postmortem_transition(
    *, postmortem: PostMortem, name: str, actor: User, note: str = "", now=None
) -> PostMortem:
    """Move a post-mortem through its review. Refused — nothing changed — when the step is
    not possible now, the actor may not, or something is missing (each thing named)."""
    if name not in TRANSITIONS:
        raise ValidationError(f"“{name}” is not a step of the review.")
    _require(postmortem.incident.organization, actor, Capability.UPDATE_INCIDENTS)
    postmortem = _lock(postmortem)
    method = getattr(postmortem, name)
    if not can_proceed(method, check_conditions=False):
        raise ValidationError(
            f"“{TRANSITIONS[name]}” is not possible while the post-mortem is "
            f"{postmortem.get_status_display().lower()}."
        )
    target = method._django_fsm.get_transition(postmortem.status).target
    missing = missing_for(postmortem, target)
    if missing:
        raise ReviewMissing(missing)
    note = _text(note, "note", 1000)
    now = now or timezone.now()
    previous = postmortem.get_status_display().lower()
    method()
    if name == "submit":
        postmortem.submitted_at = now
    elif name == "publish":
        postmortem.published_at = now
    elif name in ("revise", "request_changes"):
        # A new version: verdicts already given belong to the one that was in review.
        postmortem.version += 1
    postmortem.save()
    if name in ("publish", "revise"):
        search.refresh_search_vector(postmortem)
    message = {
        "submit": f"Post-mortem (version {postmortem.version}) submitted for review",
        "publish": f"Post-mortem version {postmortem.version} published",
        "request_changes": "Post-mortem sent back to draft for changes",
        "revise": f"Post-mortem revision started (version {postmortem.version})",
    }[name]
    _timeline_event(
        postmortem,
        actor,
        message + (f": {note}" if note else ""),
        transition=name,
        previous=previous,
        version=postmortem.version,
    )
    return postmortem


@transaction.atomic
def postmortem_approve(
    *, postmortem: PostMortem, actor: User, approve: bool, comment: str = "", now=None
) -> PostMortemApproval:
    """An approver's verdict on the version in review. "Changes requested" sends the document
    back to draft and starts the next version, so the next round collects fresh verdicts."""
    _require(postmortem.incident.organization, actor, Capability.VIEW_INCIDENTS)
    postmortem = _lock(postmortem)
    if postmortem.status != PostMortem.Status.IN_REVIEW:
        raise ValidationError("Only a post-mortem in review can be approved or sent back.")
    with org_scope(postmortem.organization_id):
        if not postmortem.approvers.filter(pk=actor.pk).exists():
            raise PermissionDenied("Only the post-mortem's approvers give a verdict.")
        if actor.pk == postmortem.owner_id:
            raise PermissionDenied("The owner cannot approve their own post-mortem.")
        if PostMortemApproval.objects.filter(
            postmortem_id=postmortem.pk, approver=actor, version=postmortem.version
        ).exists():
            raise ValidationError(
                f"You have given your verdict on version {postmortem.version} already."
            )
        comment = _text(comment, "comment", 2000, required=not approve)
        now = now or timezone.now()
        approval = PostMortemApproval.objects.create(
            organization_id=postmortem.organization_id,
            postmortem=postmortem,
            approver=actor,
            version=postmortem.version,
            decision=(
                PostMortemApproval.Decision.APPROVED
                if approve
                else PostMortemApproval.Decision.CHANGES
            ),
            comment=comment,
            decided_at=now,
        )
        if approve:
            _timeline_event(
                postmortem,
                actor,
                f"Post-mortem version {postmortem.version} approved by {actor}",
                version=postmortem.version,
            )
        else:
            postmortem.request_changes()
            postmortem.version += 1
            postmortem.save()
            _timeline_event(
                postmortem,
                actor,
                f"Changes requested on the post-mortem by {actor}: {comment}",
                transition="request_changes",
                version=postmortem.version,
            )
    return approval


# — the document ——————————————————————————————————————————————————————————————————————


@transaction.atomic
def postmortem_update(
    *, postmortem: PostMortem, actor: User, changes: dict, owner: User | None = None
) -> PostMortem:
    """Change the document's sections (and its owner, when `owner` is given)."""
    postmortem = _require_edit(postmortem, actor)
    unknown = set(changes) - set(SECTION_FIELDS)
    if unknown:
        raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    for field, value in changes.items():
        limit = 200 if field == "title" else SECTION_CHARS
        setattr(postmortem, field, _text(value, field, limit, required=field == "title"))
    if owner is not None and owner.pk != postmortem.owner_id:
        if owner.pk not in member_ids(postmortem.incident.organization):
            raise ValidationError({"owner": "Choose a member of this organisation."})
        postmortem.owner = owner
        with org_scope(postmortem.organization_id):
            postmortem.approvers.remove(owner)  # the owner approves nothing of their own
    postmortem.save()
    return postmortem


def _parse_at(value, field: str = "at") -> datetime:
    try:
        at = value if isinstance(value, datetime) else parse_datetime(str(value or "").strip())
    except ValueError:
        at = None
    if at is None:
        raise ValidationError({field: "A date and time like 2026-11-27 14:03."})
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return at


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: row.get("at") or "")


def _row(at, text) -> tuple[str, str]:
    at = _parse_at(at).astimezone(UTC)
    text = _text(text, "text", TIMELINE_TEXT_CHARS, required=True)
    return at.isoformat(), text


@transaction.atomic
def timeline_add(*, postmortem: PostMortem, actor: User, at, text: str) -> PostMortem:
    postmortem = _require_edit(postmortem, actor)
    if len(postmortem.timeline) >= TIMELINE_ROWS:
        raise ValidationError(f"A timeline holds at most {TIMELINE_ROWS} rows.")
    at, text = _row(at, text)
    postmortem.timeline = _sorted(
        [*postmortem.timeline, {"at": at, "text": text, "source": "added"}]
    )
    postmortem.save(update_fields=["timeline", "updated_at"])
    return postmortem


def _index(postmortem: PostMortem, index) -> int:
    if not isinstance(index, int) or not 0 <= index < len(postmortem.timeline):
        raise ValidationError("That timeline row does not exist (any more). Reload the page.")
    return index


@transaction.atomic
def timeline_edit(*, postmortem: PostMortem, actor: User, index: int, at, text: str):
    postmortem = _require_edit(postmortem, actor)
    index = _index(postmortem, index)
    at, text = _row(at, text)
    rows = list(postmortem.timeline)
    rows[index] = {**rows[index], "at": at, "text": text}
    postmortem.timeline = _sorted(rows)
    postmortem.save(update_fields=["timeline", "updated_at"])
    return postmortem


@transaction.atomic
def timeline_remove(*, postmortem: PostMortem, actor: User, index: int) -> PostMortem:
    postmortem = _require_edit(postmortem, actor)
    index = _index(postmortem, index)
    rows = list(postmortem.timeline)
    del rows[index]
    postmortem.timeline = rows
    postmortem.save(update_fields=["timeline", "updated_at"])
    return postmortem


@transaction.atomic
def timeline_reimport(*, postmortem: PostMortem, actor: User) -> PostMortem:
    """Replace the imported rows with the incident's timeline as it is now; rows added here
    stay."""
    postmortem = _require_edit(postmortem, actor)
    added = [row for row in postmortem.timeline if row.get("source") != "incident"]
    postmortem.timeline = _sorted([*imported_timeline(postmortem.incident), *added])[:TIMELINE_ROWS]
    postmortem.save(update_fields=["timeline", "updated_at"])
    return postmortem


@transaction.atomic
def tags_set(*, postmortem: PostMortem, actor: User, tags=(), new_names: str = "") -> PostMortem:
    """Set the document's tags: existing ones picked, new ones created by name (comma
    separated)."""
    postmortem = _require_edit(postmortem, actor)
    tags = list(tags)
    for tag in tags:
        if tag.organization_id != postmortem.organization_id:
            raise ValidationError({"tags": "Choose one of this organisation's own."})
    with org_scope(postmortem.organization_id):
        for raw in (new_names or "").split(","):
            name = " ".join(raw.split())
            if not name:
                continue
            if len(name) > 50:
                raise ValidationError({"new_tags": "A tag has at most 50 characters."})
            slug = slugify(name)[:60]
            if not slug:
                raise ValidationError({"new_tags": f"“{name}” needs a letter or a digit."})
            tag, _ = Tag.objects.get_or_create(
                organization_id=postmortem.organization_id, slug=slug, defaults={"name": name}
            )
            tags.append(tag)
        unique = list({tag.pk: tag for tag in tags}.values())
        if len(unique) > MAX_TAGS:
            raise ValidationError({"tags": f"At most {MAX_TAGS} tags."})
        postmortem.tags.set(unique)
    _touch(postmortem)
    return postmortem


@transaction.atomic
def approvers_set(*, postmortem: PostMortem, actor: User, users) -> PostMortem:
    """Choose who approves the document: members, not the owner."""
    postmortem = _require_edit(postmortem, actor)
    users = list({user.pk: user for user in users}.values())
    members = member_ids(postmortem.incident.organization)
    if any(user.pk not in members for user in users):
        raise ValidationError({"approvers": "Choose members of this organisation."})
    if any(user.pk == postmortem.owner_id for user in users):
        raise ValidationError({"approvers": "The owner cannot approve their own post-mortem."})
    if len(users) > MAX_APPROVERS:
        raise ValidationError({"approvers": f"At most {MAX_APPROVERS} approvers."})
    with org_scope(postmortem.organization_id):
        postmortem.approvers.set(users)
    _touch(postmortem)
    return postmortem


# — 5 Whys ——————————————————————————————————————————————————————————————————————————


def _why_texts(why: str, because: str) -> tuple[str, str]:
    return (
        _text(why, "why", 300, required=True),
        _text(because, "because", 300, required=True),
    )


@transaction.atomic
def why_add(*, postmortem: PostMortem, actor: User, why: str, because: str) -> WhyStep:
    postmortem = _require_edit(postmortem, actor)
    why, because = _why_texts(why, because)
    with org_scope(postmortem.organization_id):
        steps = WhyStep.objects.filter(postmortem_id=postmortem.pk)
        if steps.count() >= MAX_WHYS:
            raise ValidationError(f"A chain has at most {MAX_WHYS} steps.")
        last = steps.aggregate(m=Max("position"))["m"] or 0
        step = WhyStep.objects.create(
            organization_id=postmortem.organization_id,
            postmortem=postmortem,
            position=last + 1,
            why=why,
            because=because,
        )
    _touch(postmortem)
    return step


def _own_step(postmortem: PostMortem, model, pk) -> object:
    with org_scope(postmortem.organization_id):
        row = model.objects.filter(pk=pk, postmortem_id=postmortem.pk).first()
    if row is None:
        raise ValidationError("That row does not exist (any more). Reload the page.")
    return row


@transaction.atomic
def why_edit(*, postmortem: PostMortem, actor: User, step_id: int, why: str, because: str):
    postmortem = _require_edit(postmortem, actor)
    step = _own_step(postmortem, WhyStep, step_id)
    step.why, step.because = _why_texts(why, because)
    step.save()
    _touch(postmortem)
    return step


def _renumber(postmortem: PostMortem) -> None:
    """Positions 1..n in the current order (ascending, so no two rows ever share one)."""
    for number, step in enumerate(
        WhyStep.objects.filter(postmortem_id=postmortem.pk).order_by("position"), start=1
    ):
        if step.position != number:
            step.position = number
            step.save(update_fields=["position"])


@transaction.atomic
def why_remove(*, postmortem: PostMortem, actor: User, step_id: int) -> None:
    postmortem = _require_edit(postmortem, actor)
    step = _own_step(postmortem, WhyStep, step_id)
    with org_scope(postmortem.organization_id):
        step.delete()
        _renumber(postmortem)
    _touch(postmortem)


@transaction.atomic
def why_move(*, postmortem: PostMortem, actor: User, step_id: int, direction: str) -> None:
    """Move a step one place up or down the chain."""
    if direction not in ("up", "down"):
        raise ValidationError("Move a step up or down.")
    postmortem = _require_edit(postmortem, actor)
    step = _own_step(postmortem, WhyStep, step_id)
    with org_scope(postmortem.organization_id):
        steps = list(WhyStep.objects.filter(postmortem_id=postmortem.pk).order_by("position"))
        at = next(i for i, s in enumerate(steps) if s.pk == step.pk)
        other = at - 1 if direction == "up" else at + 1
        if not 0 <= other < len(steps):
            return
        a, b = steps[at], steps[other]
        a_pos, b_pos = a.position, b.position
        a.position = 32000  # out of the way: the position is unique per post-mortem
        a.save(update_fields=["position"])
        b.position = a_pos
        b.save(update_fields=["position"])
        a.position = b_pos
        a.save(update_fields=["position"])
    _touch(postmortem)


def why_warning(postmortem: PostMortem, *, people=None) -> str:
    """The page's warning when the chain stops at a person, else ""."""
    from postmortems import blameless

    with org_scope(postmortem.organization_id):
        last = WhyStep.objects.filter(postmortem_id=postmortem.pk).order_by("-position").first()
    if last is None:
        return ""
    if people is None:
        people = blameless.people_of(postmortem.organization_id)
    if blameless.names_a_person(last.because, people=people):
        return (
            "The chain stops at a person. Ask “why?” once more, until the answer is a process "
            "or a property of the system (a missing check, an unclear runbook, a default that "
            "invites the mistake)."
        )
    return ""


# — fishbone ————————————————————————————————————————————————————————————————————————


@transaction.atomic
def cause_add(*, postmortem: PostMortem, actor: User, category: str, text: str):
    postmortem = _require_edit(postmortem, actor)
    if category not in FishboneCause.Category.values:
        raise ValidationError({"category": "Choose one of the six categories."})
    text = _text(text, "text", 200, required=True)
    with org_scope(postmortem.organization_id):
        existing = FishboneCause.objects.filter(postmortem_id=postmortem.pk, category=category)
        if existing.count() >= MAX_CAUSES_PER_CATEGORY:
            raise ValidationError(
                {"text": f"At most {MAX_CAUSES_PER_CATEGORY} causes in one category."}
            )
        position = (existing.aggregate(m=Max("position"))["m"] or 0) + 1
        cause = FishboneCause.objects.create(
            organization_id=postmortem.organization_id,
            postmortem=postmortem,
            category=category,
            text=text,
            position=position,
        )
    _touch(postmortem)
    return cause


@transaction.atomic
def cause_remove(*, postmortem: PostMortem, actor: User, cause_id: int) -> None:
    postmortem = _require_edit(postmortem, actor)
    cause = _own_step(postmortem, FishboneCause, cause_id)
    with org_scope(postmortem.organization_id):
        cause.delete()
    _touch(postmortem)
