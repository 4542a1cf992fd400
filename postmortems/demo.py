"""Demo post-mortems: the organisation's policy, and on the demo incidents that needed one (the
incidents seeder resolved them through the services, which created their drafts) one published
post-mortem — 5 Whys, fishbone causes, tags, action items done on time, late and still open
and overdue — one in review and one draft; the rest have had their review meeting.

Idempotent: an organisation with a post-mortem policy row is left alone. Synthetic history is
not written to the audit trail (nobody made those changes), as for the demo incidents."""

from datetime import timedelta

from auditlog.context import disable_auditlog
from django.utils import timezone

from incidents import services as incident_services
from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from postmortems import scheduling, services
from postmortems.models import ActionItem, PostMortem, PostMortemPolicy, WhyStep
from tenancy.models import Membership, Organization
from tenancy.roles import Role

SECTIONS = {
    "summary": "Card payments failed for part of our customers after a configuration change "
    "reduced the payment gateway's connection pool.",
    "customer_impact": "About 4 % of checkouts failed; customers saw “payment could not be "
    "processed” and most retried successfully.",
    "business_impact": "Roughly 1,900 failed payment attempts; no data was lost. The incident "
    "was reported to the acquiring bank under the operating agreement.",
    "detection": "The checkout 5xx alert fired four minutes after the change; nobody watched "
    "the pool saturation graph, which had shown it earlier.",
    "response": "The on-call commander paused deploys, compared the recent changes with the "
    "error logs and found the pool setting within 20 minutes.",
    "recovery": "The configuration was rolled back; error rates returned to baseline within "
    "five minutes and a stakeholder confirmed payments worked.",
    "contributing_factors": "The pool size is set in two places and the deploy pipeline "
    "validates only one. Configuration changes skip the canary stage.",
    "what_went_well": "Paging worked, the commander was named within two minutes, and the "
    "status page was updated every 15 minutes.",
    "lessons_learned": "Configuration is code: it needs the same review, canary and "
    "validation as a release.",
}
WHYS = [
    ("Why did payments fail?", "The gateway ran out of database connections."),
    ("Why did it run out of connections?", "The pool size was lowered from 50 to 5."),
    ("Why was it lowered?", "A configuration change meant for staging was applied to production."),
    (
        "Why could a staging value reach production?",
        "Both environments read the same file and the pipeline does not validate the value.",
    ),
    (
        "Why does the pipeline not validate it?",
        "Configuration changes bypass the release checks and the canary stage.",
    ),
]
CAUSES = [
    ("process", "Config changes skip the canary stage"),
    ("process", "No second review for production config"),
    ("technology", "Pool size defined in two places"),
    ("technology", "No validation of pool size range"),
    ("measurement", "Pool saturation not alerted on"),
    ("environment", "Shared config file for staging and prod"),
    ("people", "Runbook for config rollback outdated"),
]


def _people(org: Organization) -> list:
    members = list(
        Membership.objects.filter(organization=org).select_related("user").order_by("user__email")
    )
    return [m.user for m in members if m.role in (Role.RESPONDER, Role.MANAGER, Role.ADMIN)]


def seed_postmortems(org: Organization) -> None:
    if PostMortemPolicy.objects.filter(organization=org).exists():
        return
    PostMortemPolicy.objects.create(organization=org)
    with disable_auditlog():
        _seed(org)


def _align(postmortem: PostMortem, now) -> None:
    """The incidents seeder back-dated each incident after its post-mortem was created: move the
    post-mortem's dates and its imported timeline along."""
    incident = Incident.objects.get(pk=postmortem.incident_id)
    resolved = incident.resolved_at or now
    due = resolved + timedelta(hours=48)
    fields = {
        "created_at": resolved,
        "review_due_at": due,
        "timeline": scheduling.imported_timeline(incident),
    }
    if due < now:
        fields["review_held_at"] = due - timedelta(hours=6)
    PostMortem.objects.filter(pk=postmortem.pk).update(**fields)


def _document(postmortem: PostMortem, owner, approver, *, complete: bool) -> PostMortem:
    sections = SECTIONS if complete else {"summary": SECTIONS["summary"]}
    postmortem = services.postmortem_update(postmortem=postmortem, actor=owner, changes=sections)
    for why, because in WHYS if complete else WHYS[:2]:
        services.why_add(postmortem=postmortem, actor=owner, why=why, because=because)
    for category, text in CAUSES if complete else CAUSES[:2]:
        services.cause_add(postmortem=postmortem, actor=owner, category=category, text=text)
    if approver is not None:
        services.approvers_set(postmortem=postmortem, actor=owner, users=[approver])
    return postmortem


def _action_items(postmortem: PostMortem, people, teams, now) -> None:
    today = timezone.localdate(now)
    specs = [
        # title, kind, priority, due (days from today), status, done (days from today)
        ("Validate pool size in the deploy pipeline", "prevent", "p1", -20, "done", -25),
        ("Alert on connection pool saturation", "detect", "p2", -14, "done", -6),
        ("Run configuration changes through the canary stage", "prevent", "p2", -3, "open", None),
        ("Update the config rollback runbook", "process", "p3", 10, "in_progress", None),
        ("Split staging and production config files", "mitigate", "p3", 30, "open", None),
    ]
    for index, (title, kind, priority, due, status, done) in enumerate(specs):
        ActionItem.objects.create(
            organization_id=postmortem.organization_id,
            postmortem=postmortem,
            title=title,
            kind=kind,
            priority=priority,
            owner=people[index % len(people)],
            team=teams[index % len(teams)] if teams else None,
            due_date=today + timedelta(days=due),
            status=status,
            completed_at=now + timedelta(days=done) if done is not None else None,
            created_at=now - timedelta(days=30),
            ticket_key=f"OPS-{410 + index}",
            ticket_url=f"https://tickets.example.test/browse/OPS-{410 + index}",
        )


def _publish_quietly(postmortem: PostMortem, now) -> None:
    """An older incident's post-mortem, written, reviewed and published long ago (short
    content), and its incident closed a day later — the history most old incidents have."""
    incident = Incident.objects.get(pk=postmortem.incident_id)
    resolved = incident.resolved_at or now
    published = min(resolved + timedelta(days=3), now)
    PostMortem.objects.filter(pk=postmortem.pk).update(
        summary=f"{incident.title}. {incident.impact_summary}".strip(),
        customer_impact=incident.impact_summary or "Some customers saw errors.",
        detection="An alert fired; the on-call acknowledged it within minutes.",
        response="The responders drained traffic and compared recent changes with the logs.",
        recovery=incident.resolution_summary or "The change was rolled back.",
        contributing_factors="A change reached production without a staged rollout.",
        status=PostMortem.Status.PUBLISHED,
        submitted_at=published - timedelta(days=1),
        published_at=published,
        review_held_at=resolved + timedelta(hours=30),
    )
    WhyStep.objects.create(
        organization_id=postmortem.organization_id,
        postmortem_id=postmortem.pk,
        position=1,
        why="Why did the change hurt customers?",
        because="It went to every host at once: the rollout has no canary stage.",
    )
    ActionItem.objects.create(
        organization_id=postmortem.organization_id,
        postmortem_id=postmortem.pk,
        title="Roll this kind of change out through a canary",
        owner=postmortem.owner,
        due_date=timezone.localdate(published) + timedelta(days=14),
        status=ActionItem.Status.DONE,
        created_at=published,
        completed_at=published + timedelta(days=10),
    )
    if incident.status == Status.RESOLVED:
        incident_services.incident_transition(incident=incident, name="close", actor=None)
        closed = published + timedelta(hours=2)
        Incident.objects.filter(pk=incident.pk).update(closed_at=closed)
        last = TimelineEvent.objects.filter(incident=incident).order_by("-created_at", "-pk")
        TimelineEvent.objects.filter(pk=last.values("pk")[:1]).update(created_at=closed)


def _seed(org: Organization) -> None:
    people = _people(org)
    from tenancy.models import Team

    teams = list(Team.objects.filter(organization=org).order_by("name"))
    now = timezone.now()
    postmortems = list(
        PostMortem.objects.filter(organization=org)
        .select_related("incident")
        .order_by("incident__resolved_at")
    )
    for postmortem in postmortems:
        _align(postmortem, now)
    if not postmortems or not people:
        return
    # The showcase: the oldest published in full, the newest two in review and in draft.
    showcase = [("published", postmortems[0])]
    if len(postmortems) > 2:
        showcase.append(("in_review", postmortems[-2]))
    if len(postmortems) > 1:
        showcase.append(("draft", postmortems[-1]))
    chosen = {postmortem.pk for _, postmortem in showcase}
    recent = now - timedelta(days=7)
    for postmortem in postmortems:
        resolved = postmortem.incident.resolved_at
        if postmortem.pk not in chosen and resolved is not None and resolved < recent:
            _publish_quietly(postmortem, now)
    for goal, postmortem in showcase:
        postmortem = PostMortem.objects.get(pk=postmortem.pk)
        owner = postmortem.owner or people[0]
        approver = next((p for p in people if p.pk != owner.pk), None)
        postmortem = _document(postmortem, owner, approver, complete=goal != "draft")
        if goal == "draft" or approver is None:
            continue
        _action_items(postmortem, people, teams, now)
        tags = "payments, configuration, connection-pool" if goal == "published" else "payments"
        services.tags_set(postmortem=postmortem, actor=owner, new_names=tags)
        postmortem = services.postmortem_transition(
            postmortem=postmortem, name="submit", actor=owner
        )
        if goal == "in_review":
            continue
        services.postmortem_approve(
            postmortem=postmortem, actor=approver, approve=True, comment="Clear and blameless."
        )
        services.postmortem_transition(postmortem=postmortem, name="publish", actor=owner)
        incident = Incident.objects.get(pk=postmortem.incident_id)
        if incident.status == Status.RESOLVED:
            incident_services.incident_transition(incident=incident, name="close", actor=None)
    from postmortems import search

    if hasattr(search, "refresh_search_vectors"):
        search.refresh_search_vectors(org)
