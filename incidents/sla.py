"""SLA timers and escalation: started and stopped by the lifecycle, swept when due.

Every deadline is a row with a due time. The sweepers claim due rows with
`SELECT … FOR UPDATE SKIP LOCKED`, act, and mark them done in the same transaction: a restart,
a crash in the middle or a second sweeper never loses or doubles a firing. Celery messages only
make it faster; the rows are the record."""

import datetime
import logging

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.business_time import Calendar, add_business_time, business_time_between
from incidents.lifecycle import Status
from incidents.models import (
    BusinessCalendar,
    EscalationRun,
    Incident,
    Phase,
    SlaPolicy,
    SlaTimer,
    TimelineEvent,
)
from taxonomy.models import EscalationPath, EscalationStep
from tenancy.audit import lock_chains
from tenancy.models import Membership, Organization
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)

# Which phase a lifecycle state meets.
MEETS = {
    Status.INVESTIGATING: (Phase.ACKNOWLEDGE,),
    Status.MITIGATED: (Phase.ACKNOWLEDGE, Phase.MITIGATE),
    Status.RESOLVED: (Phase.ACKNOWLEDGE, Phase.MITIGATE, Phase.RESOLVE),
    Status.CLOSED: (Phase.ACKNOWLEDGE, Phase.MITIGATE, Phase.RESOLVE),
}
STOPS_ALL = (Status.DISMISSED, Status.DUPLICATE)
SWEEP_BATCH = 500


def _record(incident, message, **data):
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=TimelineEvent.Kind.FIELD if data.get("quiet") else "sla",
        message=message,
        data=data,
    )


def policy_for(incident: Incident) -> SlaPolicy | None:
    """The category's policy for this severity if there is one, else the severity's default."""
    policies = {
        p.category_id: p
        for p in SlaPolicy.objects.filter(
            organization_id=incident.organization_id, severity_id=incident.severity_id
        )
    }
    return policies.get(incident.category_id) or policies.get(None)


def calendar_for(organization_id: int) -> Calendar:
    row = (
        BusinessCalendar.objects.filter(organization_id=organization_id)
        .prefetch_related("holidays")
        .first()
    )
    if row is None:
        org = Organization.objects.get(pk=organization_id)
        return Calendar(timezone=org.timezone)
    return Calendar.from_model(row)


def _deadline(start, minutes: int, clock: str, calendar: Calendar | None):
    delta = datetime.timedelta(minutes=minutes)
    if clock == SlaPolicy.Clock.BUSINESS and calendar is not None:
        return add_business_time(start, delta, calendar)
    return start + delta


def _schedule(timer: SlaTimer, policy: SlaPolicy | None, calendar: Calendar | None) -> None:
    """Set due and warning times from the timer's start, target, clock and pauses."""

    def deadline(minutes):
        due = _deadline(timer.started_at, minutes, timer.clock, calendar)
        if timer.paused_for:  # pauses so far, counted in the timer's own clock
            due = _deadline(due, 0, timer.clock, calendar) + timer.paused_for
        return due

    timer.due_at = deadline(timer.target_minutes)
    share = (policy.warn_at_percent if policy else 80) / 100
    warn_minutes = max(1, int(timer.target_minutes * share))
    timer.warn_at = deadline(warn_minutes) if warn_minutes < timer.target_minutes else None


def start_timers(incident: Incident, *, period_number: int, started_at, phases) -> list:
    """Start one timer per phase for an impact period (no policy, no timers)."""
    policy = policy_for(incident)
    if policy is None:
        return []
    calendar = calendar_for(incident.organization_id) if policy.clock == "business" else None
    timers = []
    for phase in phases:
        timer = SlaTimer(
            organization_id=incident.organization_id,
            incident=incident,
            phase=phase,
            period_number=period_number,
            policy=policy,
            clock=policy.clock,
            target_minutes=policy.target_minutes(phase),
            started_at=started_at,
        )
        _schedule(timer, policy, calendar)
        timer.save()
        timers.append(timer)
    return timers


def _running(incident: Incident):
    return SlaTimer.objects.filter(
        incident=incident, met_at__isnull=True, breached_at__isnull=True, stopped_at__isnull=True
    )


def on_created(incident: Incident) -> None:
    """A new incident: its three clocks start at the report; the escalation path for a new
    incident of its severity starts walking."""
    start_timers(incident, period_number=1, started_at=incident.reported_at, phases=list(Phase))
    schedule_escalation(incident, trigger="new", start=incident.reported_at)


def on_transition(incident: Incident, *, previous: str, target: str, now=None) -> None:
    """Meet, stop or restart timers for a lifecycle move (called in its transaction)."""
    now = now or timezone.now()
    if target in STOPS_ALL:
        _running(incident).update(stopped_at=now, paused_at=None)
        cancel_escalation(incident, now=now)
        return
    if previous in (Status.RESOLVED, Status.CLOSED) and target == Status.INVESTIGATING:
        period = incident.impact_periods.order_by("-number").first()
        # A reopen starts fresh timers for the new impact period; the old ones stay as they are.
        start_timers(
            incident,
            period_number=period.number if period else 1,
            started_at=now,
            phases=[Phase.MITIGATE, Phase.RESOLVE],
        )
        return
    met = MEETS.get(target, ())
    for timer in _running(incident).filter(phase__in=met):
        resume(timer, now=now, quiet=True)
        timer.met_at = now
        timer.save(update_fields=["met_at", "paused_at", "paused_for", "due_at", "warn_at"])
    if Phase.ACKNOWLEDGE in met:
        cancel_escalation(incident, now=now, acknowledged=True)


def on_severity_changed(incident: Incident, *, actor=None) -> None:
    """Re-compute running timers for the new severity's policy, and say so on the timeline."""
    policy = policy_for(incident)
    running = list(_running(incident))
    if policy is None or not running:
        return
    calendar = calendar_for(incident.organization_id) if policy.clock == "business" else None
    parts = []
    for timer in running:
        timer.policy = policy
        timer.clock = policy.clock
        timer.target_minutes = policy.target_minutes(timer.phase)
        _schedule(timer, policy, calendar)
        timer.save(update_fields=["policy", "clock", "target_minutes", "due_at", "warn_at"])
        local = timezone.localtime(timer.due_at)
        parts.append(f"{timer.get_phase_display().lower()} by {local:%Y-%m-%d %H:%M %Z}")
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        actor=actor,
        kind=TimelineEvent.Kind.SLA,
        message=f"SLA re-computed for {incident.severity}: " + ", ".join(parts),
    )


def pause(timer: SlaTimer, *, actor, reason: str, now=None) -> SlaTimer:
    """Stop a running clock while the incident waits on someone outside (audited)."""
    from django.core.exceptions import ValidationError

    now = now or timezone.now()
    if not reason.strip():
        raise ValidationError({"reason": "Say what the incident is waiting for."})
    if not timer.is_running or timer.paused_at:
        raise ValidationError("Only a running clock can be paused.")
    timer.paused_at = now
    timer.pause_reason = reason.strip()
    timer.save(update_fields=["paused_at", "pause_reason"])
    TimelineEvent.objects.create(
        organization_id=timer.organization_id,
        incident=timer.incident,
        actor=actor,
        kind=TimelineEvent.Kind.FIELD,
        message=f"{timer.get_phase_display()} SLA paused: {timer.pause_reason}",
    )
    return timer


def resume(timer: SlaTimer, *, actor=None, now=None, quiet: bool = False) -> SlaTimer:
    """Restart a paused clock; the pause is added to its due time (in its own clock)."""
    if not timer.paused_at:
        return timer
    now = now or timezone.now()
    if timer.clock == SlaPolicy.Clock.BUSINESS:
        calendar = calendar_for(timer.organization_id)
        paused = business_time_between(timer.paused_at, now, calendar)
        timer.due_at = add_business_time(timer.due_at, paused, calendar)
        if timer.warn_at:
            timer.warn_at = add_business_time(timer.warn_at, paused, calendar)
    else:
        paused = now - timer.paused_at
        timer.due_at += paused
        if timer.warn_at:
            timer.warn_at += paused
    timer.paused_for += paused
    timer.paused_at = None
    timer.save(update_fields=["paused_at", "paused_for", "due_at", "warn_at"])
    if not quiet:
        TimelineEvent.objects.create(
            organization_id=timer.organization_id,
            incident=timer.incident,
            actor=actor,
            kind=TimelineEvent.Kind.FIELD,
            message=f"{timer.get_phase_display()} SLA resumed after {paused}".split(".")[0],
        )
    return timer


# — escalation ————————————————————————————————————————————————————————————————————————


def path_for(incident: Incident) -> EscalationPath | None:
    """The category's path for this severity, else the severity's default. Never another
    severity's path: a SEV-3 does not page the SEV-1 path."""
    paths = {
        p.category_id: p
        for p in EscalationPath.objects.filter(
            organization_id=incident.organization_id, severity_id=incident.severity_id
        )
    }
    return paths.get(incident.category_id) or paths.get(None)


def schedule_escalation(incident: Incident, *, trigger: str, start) -> int:
    path = path_for(incident)
    if path is None:
        return 0
    created = 0
    for step in EscalationStep.objects.filter(path=path).select_related("team", "user"):
        _, made = EscalationRun.objects.get_or_create(
            organization_id=incident.organization_id,
            incident=incident,
            step=step,
            trigger=trigger,
            defaults={
                "step_label": f"{path.name}: {step}",
                "due_at": start + datetime.timedelta(minutes=step.delay_minutes),
            },
        )
        created += made
    return created


def cancel_escalation(incident: Incident, *, now, acknowledged: bool = False) -> int:
    """Acknowledging stops the steps of the new-incident walk and of an acknowledge breach;
    ending the incident (dismissed, duplicate) stops all of them."""
    pending = EscalationRun.objects.filter(
        incident=incident, fired_at__isnull=True, cancelled_at__isnull=True
    )
    if acknowledged:
        ack_timers = SlaTimer.objects.filter(incident=incident, phase=Phase.ACKNOWLEDGE)
        triggers = ["new", *[f"breach:{pk}" for pk in ack_timers.values_list("pk", flat=True)]]
        pending = pending.filter(trigger__in=triggers)
    return pending.update(cancelled_at=now)


def _step_recipients(run: EscalationRun):
    step = run.step
    if step is None:
        return []
    if step.target_kind == EscalationStep.TargetKind.TEAM and step.team_id:
        return list(step.team.members.filter(is_active=True))
    if step.target_kind == EscalationStep.TargetKind.ROLE:
        return [
            m.user
            for m in Membership.objects.filter(
                organization_id=run.organization_id, role=step.role
            ).select_related("user")
            if m.user.is_active
        ]
    return [step.user] if step.user_id and step.user.is_active else []


def _fire_run(run: EscalationRun, now) -> None:
    from incidents import notify

    incident = run.incident
    users = _step_recipients(run)
    reason = "new incident" if run.trigger == "new" else "SLA breached"
    notified = notify.notify_users(
        organization=incident.organization,
        users=users,
        kind="escalation",
        title=f"{incident.key} · {incident.severity} · {incident.title}",
        body=f"Escalation ({reason}): {run.step_label}",
        incident=incident,
        url=f"/o/{incident.organization.slug}/incidents/{incident.key}/",
        severity_level=incident.severity.level,
        key=f"escalation:{run.pk}",
        now=now,
    )
    from incidents.registry import escalation_pagers

    pages = [
        p for p in (pager(run=run, incident=incident, now=now) for pager in escalation_pagers) if p
    ]
    run.fired_at = now
    run.notified = notified
    run.save(update_fields=["fired_at", "notified"])
    names = (
        ", ".join([*(str(u) for u in users), *pages]) or "nobody (the step has no one to notify)"
    )
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=TimelineEvent.Kind.ESCALATION,
        message=f"Escalated ({reason}) — {run.step_label}: notified {names}",
        data={"run": run.pk, "notified": notified},
    )


def _on_breach(timer: SlaTimer, now) -> None:
    incident = timer.incident
    late = now - timer.due_at
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind="sla",
        message=(
            f"{timer.get_phase_display()} SLA breached "
            f"(target {timer.target_minutes} min, due "
            f"{timezone.localtime(timer.due_at, incident.organization.tzinfo):%H:%M %Z})"
        ),
        data={"timer": timer.pk, "late_seconds": late.total_seconds()},
    )
    schedule_escalation(incident, trigger=f"breach:{timer.pk}", start=now)


def _on_warning(timer: SlaTimer, now) -> None:
    from incidents import notify

    incident = timer.incident
    watchers = list(incident.watchers.filter(is_active=True))
    if incident.commander_id and incident.commander not in watchers:
        watchers.append(incident.commander)
    left = max(0, int((timer.due_at - now).total_seconds() // 60))
    notify.notify_users(
        organization=incident.organization,
        users=watchers,
        kind="sla_warning",
        title=f"{incident.key} · {timer.get_phase_display()} SLA due in {left} min",
        body=f"{incident.title}: {timer.get_phase_display().lower()} is due "
        f"{timezone.localtime(timer.due_at, incident.organization.tzinfo):%H:%M %Z}.",
        incident=incident,
        url=f"/o/{incident.organization.slug}/incidents/{incident.key}/",
        severity_level=incident.severity.level,
        key=f"sla-warning:{timer.pk}",
        now=now,
    )


CHUNK = 20


def _breach_chunk(now, size: int) -> tuple[int, int]:
    """One short transaction: claim up to `size` due timers, mark them breached, schedule their
    escalation, and fire the steps already due (delay 0) — committed together, so a breach is
    visible with its first page within one chunk, not after a whole sweep."""
    with transaction.atomic():
        with scopes_disabled():  # claiming across organisations; acting happens in scope
            due = list(
                SlaTimer.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("incident__organization", "incident__severity")
                .filter(
                    due_at__lte=now,
                    met_at__isnull=True,
                    breached_at__isnull=True,
                    stopped_at__isnull=True,
                    paused_at__isnull=True,
                )
                .order_by("due_at")[:size]
            )
        lock_chains(t.organization_id for t in due)  # audit chains in one order: no deadlock
        for timer in due:
            with org_scope(timer.organization_id):
                timer.breached_at = now
                timer.warned_at = timer.warned_at or now
                timer.save(update_fields=["breached_at", "warned_at"])
                _on_breach(timer, now)
        fired = _fire_due_runs(now, size * 10, incident_ids=[t.incident_id for t in due])
    return len(due), fired


def _fire_due_runs(now, size: int, incident_ids=None) -> int:
    """Fire claimable escalation steps that are due (inside the caller's transaction)."""
    with scopes_disabled():
        runs = EscalationRun.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            due_at__lte=now, fired_at__isnull=True, cancelled_at__isnull=True
        )
        if incident_ids is not None:
            if not incident_ids:
                return 0
            runs = runs.filter(incident_id__in=incident_ids)
        runs = list(
            runs.select_related("incident__organization", "incident__severity", "step").order_by(
                "due_at"
            )[:size]
        )
    lock_chains(r.organization_id for r in runs)
    for run in runs:
        with org_scope(run.organization_id):
            _fire_run(run, now)
    return len(runs)


def sweep_due(*, now=None, limit: int = SWEEP_BATCH) -> dict:
    """Claim and act on everything due — breaches first, then escalation steps, then warnings —
    in chunks of CHUNK rows, each its own transaction. Cross-tenant by design (one sweeper for
    all organisations); each row is acted on inside its own organisation's scope, and claimed
    rows are marked in the same transaction as their effects."""
    fixed = now is not None
    counts = {"warned": 0, "breached": 0, "escalated": 0}

    def moment():
        return now if fixed else timezone.now()

    while counts["breached"] < limit:
        breached, fired = _breach_chunk(moment(), min(CHUNK, limit - counts["breached"]))
        counts["breached"] += breached
        counts["escalated"] += fired
        if breached == 0:
            break
    while counts["escalated"] < limit:
        with transaction.atomic():
            fired = _fire_due_runs(moment(), CHUNK)
        counts["escalated"] += fired
        if fired == 0:
            break
    while counts["warned"] < limit:
        at = moment()
        with transaction.atomic():
            with scopes_disabled():
                warn = list(
                    SlaTimer.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("incident__organization", "incident__severity")
                    .filter(
                        warn_at__lte=at,
                        warned_at__isnull=True,
                        met_at__isnull=True,
                        breached_at__isnull=True,
                        stopped_at__isnull=True,
                        paused_at__isnull=True,
                    )
                    .order_by("warn_at")[: min(CHUNK, limit - counts["warned"])]
                )
            lock_chains(t.organization_id for t in warn)
            for timer in warn:
                with org_scope(timer.organization_id):
                    timer.warned_at = at
                    timer.save(update_fields=["warned_at"])
                    _on_warning(timer, at)
        counts["warned"] += len(warn)
        if not warn:
            break
    # Status-update cadence and handoff deadlines: the same claim-act-mark discipline.
    from incidents import coordination

    counts.update(coordination.sweep(now=now, limit=limit))
    return counts


def next_due(now=None) -> datetime.datetime | None:
    """The nearest due time of anything the sweeper acts on (for a sweeper that sleeps)."""
    from django.db.models import Min

    with scopes_disabled():
        candidates = [
            SlaTimer.objects.filter(
                met_at__isnull=True,
                breached_at__isnull=True,
                stopped_at__isnull=True,
                paused_at__isnull=True,
            ).aggregate(m=Min("due_at"))["m"],
            SlaTimer.objects.filter(
                warned_at__isnull=True,
                met_at__isnull=True,
                breached_at__isnull=True,
                stopped_at__isnull=True,
                paused_at__isnull=True,
            ).aggregate(m=Min("warn_at"))["m"],
            EscalationRun.objects.filter(
                fired_at__isnull=True, cancelled_at__isnull=True
            ).aggregate(m=Min("due_at"))["m"],
        ]
    from incidents import coordination

    candidates.append(coordination.next_due(now))
    present = [c for c in candidates if c is not None]
    return min(present) if present else None
