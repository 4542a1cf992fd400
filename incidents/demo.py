"""About 200 demo incidents (100 for globex) over the last 90 days, in mixed states, made
through the same services as real ones (so timelines and impact periods make sense), then
moved back in time."""

import random
from datetime import timedelta

from auditlog.context import disable_auditlog
from django.utils import timezone

from incidents import lifecycle, services, sla
from incidents.lifecycle import OPEN_STATES, Status
from incidents.models import (
    EscalationRun,
    ImpactPeriod,
    Incident,
    KeyCounter,
    Phase,
    SlaTimer,
    TimelineEvent,
    Verification,
)
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Membership, Organization
from tenancy.roles import Role

DEMO_INCIDENTS = {"acme": 200, "globex": 100}

TITLES = [
    "Checkout errors spike to {n}% 5xx",
    "Card declines from processor {p}",
    "Elevated latency on {s}",
    "{s} unavailable in one region",
    "Database replica lag above {n} s",
    "Certificate expiry warning for {s}",
    "Suspicious login attempts on admin accounts",
    "Message queue backlog on {s}",
    "DNS resolution failures for {s}",
    "Disk almost full on {s} primary",
    "Memory leak after release {n}.{n}",
    "Third-party webhook timeouts from {p}",
    "Batch job missed its window on {s}",
    "Increased error rate in {s} login flow",
]
PROCESSORS = ["Adyen", "Stripe", "Worldpay", "Nexi", "Paysafe"]


def _people(org):
    members = list(Membership.objects.filter(organization=org).select_related("user"))
    responders = [m.user for m in members if m.role in (Role.RESPONDER, Role.ADMIN, Role.MANAGER)]
    return responders or [m.user for m in members]


def _final_state(rng, age_days: float) -> str:
    if age_days < 2:
        return rng.choice(
            [
                Status.REPORTED,
                Status.INVESTIGATING,
                Status.INVESTIGATING,
                Status.MITIGATED,
                Status.RESOLVED,
            ]
        )
    roll = rng.random()
    if roll < 0.06:
        return Status.DISMISSED
    if roll < 0.10:
        return Status.DUPLICATE
    if roll < 0.22:
        return Status.RESOLVED
    return Status.CLOSED


PATH = {
    Status.REPORTED: [],
    Status.INVESTIGATING: ["start_investigation"],
    Status.MITIGATED: ["start_investigation", "mitigate"],
    Status.RESOLVED: ["start_investigation", "mitigate", "resolve"],
    Status.CLOSED: ["start_investigation", "mitigate", "resolve", "close"],
    Status.DISMISSED: ["dismiss"],
    Status.DUPLICATE: ["start_investigation", "mark_duplicate"],
}


def seed_incidents(org: Organization) -> None:
    """Idempotent: an organisation that has incidents already is left alone. The synthetic
    history is not written to the audit trail: nobody made those changes."""
    if KeyCounter.objects.filter(organization=org).exists():
        return
    with disable_auditlog():
        _seed(org)


def _seed(org: Organization) -> None:
    rng = random.Random(f"vigil-demo-{org.slug}")  # the same demo every time
    people = _people(org)
    severities = list(SeverityLevel.objects.filter(organization=org))
    categories = list(Category.objects.filter(organization=org))
    service_list = list(Service.objects.filter(organization=org).select_related("owning_team"))
    if not (people and severities and service_list):
        return
    now = timezone.now()
    created: list[Incident] = []
    ages = sorted(
        (rng.uniform(0.02, 90) for _ in range(DEMO_INCIDENTS.get(org.slug, 50))), reverse=True
    )
    for age in ages:
        service = rng.choice(service_list)
        severity = rng.choices(severities, weights=[1, 3, 6, 4][: len(severities)])[0]
        title = rng.choice(TITLES).format(
            n=rng.randint(2, 40), p=rng.choice(PROCESSORS), s=service.name
        )
        reporter = rng.choice(people)
        commander = rng.choice(people) if severity.is_major or rng.random() < 0.4 else None
        incident = services.incident_create(
            organization=org,
            actor=reporter,
            title=title,
            description=f"Noticed on {service.name}. Dashboards show the problem since detection.",
            severity=severity,
            category=rng.choice(categories) if rng.random() < 0.7 else None,
            primary_service=service,
            commander=commander,
            kind=Incident.Kind.REAL if rng.random() < 0.93 else Incident.Kind.GAME_DAY,
            is_restricted=severity.level == 1 and rng.random() < 0.1,
            custom_fields={"affected_customers": rng.randint(0, 5000)},
        )
        state = _final_state(rng, age)
        _walk(incident, state, reporter, commander, people, rng, created)
        _backdate(incident.pk, now - timedelta(days=age), rng)
        created.append(incident)


def _walk(incident, state, reporter, commander, people, rng, created):
    actor = commander or reporter
    for name in PATH[state]:
        incident = Incident.objects.get(pk=incident.pk)
        if name == "mitigate":
            services.incident_update(
                incident=incident,
                actor=actor,
                changes={"impact_summary": "Some customers saw errors until traffic was drained."},
            )
        if name == "resolve":
            services.incident_update(
                incident=incident,
                actor=actor,
                changes={
                    "resolution_summary": "Rolled back the change and confirmed recovery.",
                    "root_cause_category": rng.choice(Incident.RootCause.values),
                    "custom_fields": {
                        **incident.custom_fields,
                        "customer_impact": rng.choice(["none", "degraded", "outage"]),
                    },
                },
            )
            confirmer = rng.choice(people)
            verification = services.verification_request_confirmation(
                incident=incident, actor=actor, confirmer=confirmer
            )
            services.verification_confirm(verification=verification, actor=confirmer, passed=True)
        if name == "mark_duplicate":
            candidates = [c for c in created[-20:] if c.status != Status.DISMISSED]
            if not candidates:
                return
            incident = services.incident_transition(
                incident=incident, name=name, actor=actor, duplicate_of=rng.choice(candidates)
            )
            continue
        if name == "close" and lifecycle.missing_for(incident, Status.CLOSED):
            return  # stays resolved, e.g. until its post-mortem is published
        note = "Alert fired on a test environment." if name == "dismiss" else ""
        incident = services.incident_transition(
            incident=incident, name=name, actor=actor, note=note
        )
        if rng.random() < 0.3:
            services.incident_comment(
                incident=incident,
                actor=rng.choice(people),
                text=rng.choice(
                    [
                        "Looking at the dashboards now.",
                        "Paged the database on-call.",
                        "Customer support reports tickets coming in.",
                        "Rollback started.",
                        "Error rate back to baseline.",
                    ]
                ),
            )


def _backdate(incident_pk: int, reported_at, rng) -> None:
    """Move an incident's whole story back in time, keeping its order and spacing."""
    incident = Incident.objects.get(pk=incident_pk)
    detected = reported_at - timedelta(minutes=rng.randint(1, 20))
    ack = reported_at + timedelta(minutes=rng.randint(2, 45))
    mitigated = ack + timedelta(minutes=rng.randint(10, 240))
    resolved = mitigated + timedelta(minutes=rng.randint(15, 600))
    closed = resolved + timedelta(hours=rng.randint(4, 72))
    now = timezone.now()
    fields = {
        "detected_at": detected,
        "reported_at": reported_at,
        "created_at": reported_at,
        "updated_at": reported_at,
    }
    if incident.acknowledged_at:
        fields["acknowledged_at"] = min(ack, now)
    if incident.mitigated_at:
        fields["mitigated_at"] = min(mitigated, now)
    if incident.resolved_at:
        fields["resolved_at"] = min(resolved, now)
    if incident.closed_at:
        fields["closed_at"] = min(closed, now)
    Incident.objects.filter(pk=incident_pk).update(**fields)
    end = fields.get("mitigated_at") or fields.get("resolved_at")
    if incident.status in (Status.DISMISSED, Status.DUPLICATE):
        end = ack
    ImpactPeriod.objects.filter(incident_id=incident_pk).update(
        started_at=detected, ended_at=end if end else None
    )
    Verification.objects.filter(incident_id=incident_pk).update(
        created_at=(fields.get("resolved_at") or now) - timedelta(minutes=20),
        completed_at=(fields.get("resolved_at") or now) - timedelta(minutes=5),
    )
    _rebuild_sla(Incident.objects.get(pk=incident_pk))
    marks = {
        "start_investigation": fields.get("acknowledged_at"),
        "mitigate": fields.get("mitigated_at"),
        "resolve": fields.get("resolved_at"),
        "close": fields.get("closed_at"),
        "dismiss": ack,
        "mark_duplicate": ack,
    }
    cursor = reported_at
    for event in TimelineEvent.objects.filter(incident_id=incident_pk).order_by("created_at", "pk"):
        when = marks.get(event.data.get("transition")) if event.kind == "status" else None
        if when is None:
            when = cursor + timedelta(seconds=rng.randint(20, 300))
        when = min(max(when, cursor), now)
        TimelineEvent.objects.filter(pk=event.pk).update(created_at=when)
        cursor = when


def _rebuild_sla(incident: Incident) -> None:
    """Re-create the incident's clocks as they would have run from its (back-dated) report:
    met when it reached each phase, breached when that was late; open ones keep running and
    the sweeper catches up on them, escalating what is overdue as it would in real life."""
    SlaTimer.objects.filter(incident=incident).delete()
    EscalationRun.objects.filter(incident=incident).delete()
    timers = sla.start_timers(
        incident, period_number=1, started_at=incident.reported_at, phases=list(Phase)
    )
    reached = {
        Phase.ACKNOWLEDGE: incident.acknowledged_at,
        Phase.MITIGATE: incident.mitigated_at,
        Phase.RESOLVE: incident.resolved_at,
    }
    for timer in timers:
        if incident.status in (Status.DISMISSED, Status.DUPLICATE):
            timer.stopped_at = incident.acknowledged_at or incident.reported_at
        elif reached[timer.phase] is not None:
            timer.met_at = reached[timer.phase]
            if timer.met_at > timer.due_at:
                timer.breached_at = timer.due_at
                timer.warned_at = timer.warn_at or timer.due_at
        timer.save()
    if incident.status == Status.REPORTED:
        sla.schedule_escalation(incident, trigger="new", start=incident.reported_at)


def seed_coordination(org: Organization) -> None:
    """Roles, a few status updates, a decision, an open question and a pending handoff on the
    newest open incidents, so the incident page shows coordination at work. Idempotent: an
    organisation with status updates is left alone. Made through the services, so the
    timeline and the next-update deadlines are real (and the sweeper reminds on time)."""
    from incidents import coordination
    from incidents.models import IncidentRole, StatusUpdate

    coordination.seed_status_templates(org)
    if StatusUpdate.objects.filter(organization=org).exists():
        return
    people = _people(org)
    if not people:
        return
    open_incidents = list(
        Incident.objects.filter(organization=org, status__in=OPEN_STATES)
        .select_related("severity", "commander")
        .order_by("-reported_at")[:4]
    )
    now = timezone.now()
    for index, incident in enumerate(open_incidents):
        commander = incident.commander or people[0]
        if incident.commander_id is None:
            coordination.role_assign(
                incident=incident, actor=None, role=coordination.COMMANDER, user=commander
            )
            incident = Incident.objects.get(pk=incident.pk)
        others = [p for p in people if p.pk != commander.pk]
        for role, person in zip(
            [IncidentRole.Kind.COMMS, IncidentRole.Kind.SCRIBE], others[:2], strict=False
        ):
            coordination.role_assign(incident=incident, actor=commander, role=role, user=person)
        if others:
            coordination.role_take(
                incident=incident, actor=others[-1], role=IncidentRole.Kind.RESPONDER
            )
        template = coordination.StatusUpdateTemplate.objects.filter(organization=org).first()
        fields = coordination.template_render(template, incident) if template else {}
        coordination.status_update_post(
            incident=incident,
            actor=commander,
            current_status=fields.get("current_status") or f"Investigating {incident.title}.",
            impact=fields.get("impact", ""),
            workaround=fields.get("workaround", ""),
            template=template,
        )
        coordination.decision_record(
            incident=incident,
            actor=commander,
            text="Hold all deploys to the affected service until the cause is known.",
            pinned=index == 0,
        )
        coordination.question_add(
            incident=incident, actor=commander, text="Did the last release touch this service?"
        )
        if index == 0 and others:
            coordination.handoff_create(
                incident=incident,
                actor=commander,
                incoming=others[0],
                summary="Traffic drained from the failing node; error rate down to 2 %. "
                "Root cause not confirmed yet.",
                workarounds="Customers can retry failed payments after a minute.",
                pending_actions=[("Compare the release diff with the error logs", others[0])],
                questions=["Do we need to tell the regulator?"],
                now=now,
            )
