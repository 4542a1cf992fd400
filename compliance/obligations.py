"""Which regulatory obligations apply to an incident, when each one is due, and the sweeper that
reminds at 50 % and 80 % of the window and escalates a missed deadline — each exactly once.

Deadline rules (all computed in the organisation's business calendar's time zone):
- hours: elapsed hours (72 h is 72 real hours, whatever a DST change does to the clock);
- calendar days and months: the same wall-clock time that many days / months later (a month
  from 31 January is the last day of February);
- business days: the end (23:59:59 local) of the Nth working day after the day the clock started
  (the start day never counts), skipping the calendar's non-working days and holidays;
- none: no external deadline (SOX evidence, GDPR Art. 34 "without undue delay").
An obligation may add "at the latest N hours after awareness" (DORA's initial notice: 4 h after
classification, 24 h after awareness at the latest); the earlier limit applies.

The clocks are rows (`IncidentObligation`): `next_fire_at` is the next pending firing; the
sweeper claims due rows with SELECT … FOR UPDATE SKIP LOCKED, notifies and marks them in the
same transaction, so a restart or a second sweeper never loses or doubles a firing. A row whose
50 % and 80 % marks both passed before it was swept (facts recorded late) sends one reminder,
the most urgent."""

import calendar as pycalendar
import datetime
import zoneinfo
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import (
    ClockStart,
    DeadlineUnit,
    IncidentFacts,
    IncidentObligation,
    Obligation,
    ObligationStatus,
)
from incidents import notify
from incidents.business_time import Calendar
from incidents.models import Incident, TimelineEvent
from incidents.services import record
from incidents.sla import calendar_for
from postmortems.policy import _filled
from tenancy import sweeps
from tenancy.models import Membership, User
from tenancy.roles import Capability, Role, can
from tenancy.scoping import org_scope

TIMELINE_KIND = TimelineEvent.Kind.REGULATORY
CHUNK = 100
MAX_BUSINESS_DAYS_SCAN = 3 * 366


# --- deadline arithmetic -------------------------------------------------------------------


def _add_months(local: datetime.datetime, months: int) -> datetime.datetime:
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, pycalendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def _wall_clock(local: datetime.datetime, tz) -> datetime.datetime:
    """A local wall-clock time as an aware instant (re-attached, so DST is taken as it is on
    that date, not on the start date)."""
    return datetime.datetime.combine(local.date(), local.time(), tzinfo=tz)


def add_business_days(start: datetime.datetime, days: int, cal: Calendar) -> datetime.datetime:
    """The end of the `days`-th working day after the day of `start` (local to `cal`)."""
    tz = zoneinfo.ZoneInfo(cal.timezone)
    day = start.astimezone(tz).date()
    counted = 0
    for _ in range(MAX_BUSINESS_DAYS_SCAN):
        if counted == days:
            break
        day += timedelta(days=1)
        if day.isoweekday() in cal.working_days and day not in cal.holidays:
            counted += 1
    else:
        raise ValueError("The calendar has no working day within three years.")
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=tz)


def compute_due(
    start: datetime.datetime | None,
    unit: str,
    amount: int,
    cal: Calendar,
    *,
    aware_at: datetime.datetime | None = None,
    latest_hours_after_awareness: int | None = None,
) -> datetime.datetime | None:
    """When an obligation whose clock started at `start` is due (None: no external deadline
    or the clock has not started)."""
    due = None
    if start is not None and unit != DeadlineUnit.NONE:
        tz = zoneinfo.ZoneInfo(cal.timezone)
        local = start.astimezone(tz)
        if unit == DeadlineUnit.HOURS:  # elapsed time: add in UTC, never on a wall clock
            due = start.astimezone(datetime.UTC) + timedelta(hours=amount)
        elif unit == DeadlineUnit.CALENDAR_DAYS:
            due = _wall_clock(local + timedelta(days=amount), tz)
        elif unit == DeadlineUnit.MONTHS:
            due = _wall_clock(_add_months(local, amount), tz)
        elif unit == DeadlineUnit.BUSINESS_DAYS:
            due = add_business_days(start, amount, cal)
        else:
            raise ValueError(f"Unknown deadline unit {unit!r}.")
    if latest_hours_after_awareness and aware_at is not None:
        cap = aware_at.astimezone(datetime.UTC) + timedelta(hours=latest_hours_after_awareness)
        due = cap if due is None else min(due, cap)
    return due.astimezone(datetime.UTC) if due is not None else None


def marks(start: datetime.datetime, due: datetime.datetime) -> tuple:
    """The 50 % and 80 % reminder instants of a window."""
    start = start.astimezone(datetime.UTC)
    window = due - start
    return start + window * 0.5, start + window * 0.8


# --- which obligations apply --------------------------------------------------------------


def facts_of(incident: Incident) -> IncidentFacts | None:
    with org_scope(incident.organization_id):
        return IncidentFacts.objects.filter(incident_id=incident.pk).first()


def triggered(obligation: Obligation, incident: Incident, facts: IncidentFacts | None) -> bool:
    """Whether the obligation's trigger holds on the incident."""
    trigger = obligation.trigger
    if trigger.startswith("custom:"):
        return _filled((incident.custom_fields or {}).get(trigger[7:]))
    return bool(facts is not None and getattr(facts, trigger, False))


def applies(obligation: Obligation, incident: Incident, facts: IncidentFacts | None) -> bool:
    return (
        obligation.framework.enabled
        and incident.kind == Incident.Kind.REAL
        and incident.duplicate_of_id is None
        and triggered(obligation, incident, facts)
    )


def aware_at(incident: Incident, facts: IncidentFacts | None) -> datetime.datetime:
    return (facts.aware_at if facts and facts.aware_at else None) or incident.reported_at


def clock_start(
    obligation: Obligation,
    incident: Incident,
    facts: IncidentFacts | None,
    rows: dict[int, IncidentObligation],
) -> datetime.datetime | None:
    event = obligation.clock_start
    if event == ClockStart.AWARE:
        return aware_at(incident, facts)
    if event == ClockStart.DETECTED:
        return incident.detected_at
    if event == ClockStart.MATERIALITY:
        return facts.materiality_determined_at if facts else None
    if event == ClockStart.CLASSIFIED:
        return facts.classified_at if facts else None
    if event == ClockStart.RESOLVED:
        return incident.resolved_at
    if event == ClockStart.PREVIOUS_SUBMITTED:
        previous = rows.get(obligation.previous_id) if obligation.previous_id else None
        if previous is not None and previous.status == ObligationStatus.SUBMITTED:
            return previous.submitted_at
        return None
    raise ValueError(f"Unknown clock start {event!r}.")


def _next_fire(row: IncidentObligation) -> datetime.datetime | None:
    if not row.is_open or row.due_at is None:
        return None
    pending = []
    if row.reminded_50_at is None and row.remind_50_at is not None:
        pending.append(row.remind_50_at)
    if row.reminded_80_at is None and row.remind_80_at is not None:
        pending.append(row.remind_80_at)
    if row.escalated_at is None:
        pending.append(row.due_at)
    return min(pending) if pending else None


def _local(incident: Incident, when: datetime.datetime | None) -> str:
    if when is None:
        return "—"
    return timezone.localtime(when, incident.organization.tzinfo).strftime("%Y-%m-%d %H:%M %Z")


def _ordered(obligations: list[Obligation]) -> list[Obligation]:
    """Obligations with each "previous" one before the one that counts from it."""
    by_pk = {o.pk: o for o in obligations}
    done, result = set(), []

    def visit(o, depth=0):
        if o.pk in done or depth > len(obligations):
            return
        if o.previous_id in by_pk:
            visit(by_pk[o.previous_id], depth + 1)
        done.add(o.pk)
        result.append(o)

    for o in obligations:
        visit(o)
    return result


def evaluate(incident: Incident, *, now: datetime.datetime | None = None) -> list:
    """Bring the incident's obligation rows in line with its facts: create the ones that now
    apply (clock, deadline, reminder marks), re-compute deadlines whose start moved, withdraw
    open ones that no longer apply. Idempotent; serialised on the incident row. Returns the
    incident's rows that apply, in deadline order."""
    now = now or timezone.now()
    ensure_frameworks(incident.organization_id)
    with org_scope(incident.organization_id), transaction.atomic():
        incident = (
            Incident.objects.select_for_update(no_key=True, of=("self",))
            .select_related("organization")
            .get(pk=incident.pk)
        )
        facts = IncidentFacts.objects.filter(incident_id=incident.pk).first()
        obligations = _ordered(
            list(
                Obligation.objects.filter(organization_id=incident.organization_id)
                .select_related("framework")
                .order_by("framework__key", "order", "pk")
            )
        )
        rows = {
            row.obligation_id: row
            for row in IncidentObligation.objects.filter(incident_id=incident.pk)
        }
        cal = calendar_for(incident.organization_id)
        for obligation in obligations:
            row = rows.get(obligation.pk)
            if not applies(obligation, incident, facts):
                if row is not None and row.is_open:
                    row.status = ObligationStatus.WITHDRAWN
                    row.next_fire_at = None
                    row.save(update_fields=["status", "next_fire_at"])
                    record(
                        incident,
                        kind=TIMELINE_KIND,
                        actor=None,
                        message=f"{obligation.reference or obligation.name} no longer applies",
                        obligation=obligation.key,
                    )
                continue
            start = clock_start(obligation, incident, facts, rows)
            due = compute_due(
                start,
                obligation.deadline_unit,
                obligation.deadline_amount,
                cal,
                aware_at=aware_at(incident, facts),
                latest_hours_after_awareness=obligation.latest_hours_after_awareness,
            )
            created = row is None
            if created:
                try:
                    with transaction.atomic():
                        row = IncidentObligation.objects.create(
                            organization_id=incident.organization_id,
                            incident=incident,
                            obligation=obligation,
                            created_at=now,
                        )
                except IntegrityError:  # the incident lock makes this unreachable; be safe
                    row = IncidentObligation.objects.get(
                        incident_id=incident.pk, obligation=obligation
                    )
                rows[obligation.pk] = row
            elif row.status == ObligationStatus.WITHDRAWN:
                row.status = (
                    ObligationStatus.SUBMITTED
                    if row.submitted_at
                    else (
                        ObligationStatus.DRAFTED if row.drafted_at else ObligationStatus.NOT_STARTED
                    )
                )
            if created or row.clock_started_at != start or row.due_at != due:
                row.clock_started_at, row.due_at = start, due
                if start is not None and due is not None and due > start:
                    row.remind_50_at, row.remind_80_at = marks(start, due)
                else:
                    row.remind_50_at = row.remind_80_at = None
                # A corrected clock (awareness entered wrongly, then fixed) watches the new
                # deadline: firings whose new moment lies ahead fire again, once.
                if row.remind_50_at is None or row.remind_50_at > now:
                    row.reminded_50_at = None
                if row.remind_80_at is None or row.remind_80_at > now:
                    row.reminded_80_at = None
                if due is None or due > now:
                    row.escalated_at = None
            row.next_fire_at = _next_fire(row)
            row.save()
            if created:
                deadline = f"due {_local(incident, due)}" if due else obligation.rule_text
                if due is None and start is None and obligation.deadline_unit != "none":
                    deadline = f"clock starts at {obligation.get_clock_start_display().lower()}"
                record(
                    incident,
                    kind=TIMELINE_KIND,
                    actor=None,
                    message=f"{obligation.reference or obligation.name} applies "
                    f"({obligation.framework.name.split(' (')[0]}: {obligation.name}); {deadline}",
                    obligation=obligation.key,
                )
        return sorted(
            (r for r in rows.values() if r.status != ObligationStatus.WITHDRAWN),
            key=lambda r: (r.due_at is None, r.due_at or now, r.pk),
        )


def evaluate_if_relevant(incident_id: int, organization_id: int) -> None:
    """Signal receivers' entry: evaluate only incidents that have regulatory facts, existing
    obligation rows, or an organisation with custom-field triggers (two cheap queries for the
    rest)."""
    with org_scope(organization_id):
        relevant = (
            IncidentFacts.objects.filter(incident_id=incident_id).exists()
            or IncidentObligation.objects.filter(incident_id=incident_id).exists()
            or Obligation.objects.filter(
                organization_id=organization_id, trigger__startswith="custom:"
            ).exists()
        )
        if not relevant:
            return
        incident = Incident.objects.filter(pk=incident_id).first()
    if incident is not None:
        evaluate(incident)


def on_incident_event(sender, organization_id, incident_id, **kwargs) -> None:
    evaluate_if_relevant(incident_id, organization_id)


# --- the people, the actions ---------------------------------------------------------------


def _require(incident: Incident, actor: User, capability: Capability) -> str:
    with org_scope(incident.organization_id):
        role = (
            Membership.objects.filter(organization_id=incident.organization_id, user=actor)
            .values_list("role", flat=True)
            .first()
        )
    if not can(role, capability):
        raise PermissionDenied("Only compliance staff and admins may do this.")
    return role


def save_facts(incident: Incident, *, actor: User, data: dict, now=None) -> IncidentFacts:
    """Record the incident's regulatory facts (audited) and re-evaluate its obligations."""
    now = now or timezone.now()
    _require(incident, actor, Capability.MANAGE_COMPLIANCE)
    with org_scope(incident.organization_id), transaction.atomic():
        facts, _ = IncidentFacts.objects.get_or_create(
            organization_id=incident.organization_id, incident=incident
        )
        for name, value in data.items():
            setattr(facts, name, value)
        facts.updated_at, facts.updated_by = now, actor
        facts.full_clean()
        facts.save()
        evaluate(incident, now=now)
        return facts


def mark_drafted(row: IncidentObligation, *, actor: User, now=None) -> IncidentObligation:
    now = now or timezone.now()
    _require(row.incident, actor, Capability.MANAGE_COMPLIANCE)
    with org_scope(row.organization_id), transaction.atomic():
        row = IncidentObligation.objects.select_for_update().get(pk=row.pk)
        if row.status != ObligationStatus.NOT_STARTED:
            raise ValidationError(f"It is already {row.get_status_display().lower()}.")
        row.status, row.drafted_at = ObligationStatus.DRAFTED, now
        row.save(update_fields=["status", "drafted_at"])
        return row


def mark_submitted(
    row: IncidentObligation,
    *,
    actor: User,
    submitted_at: datetime.datetime | None = None,
    reference: str = "",
    now=None,
) -> IncidentObligation:
    """The notice went out (outside Vigil): who, when (not in the future, not before the clock
    started... unless there is no clock), which reference. Stops the reminders; starts the
    clocks that count from this submission."""
    now = now or timezone.now()
    submitted_at = submitted_at or now
    _require(row.incident, actor, Capability.MANAGE_COMPLIANCE)
    if submitted_at > now + timedelta(minutes=1):
        raise ValidationError({"submitted_at": "A submission cannot be in the future."})
    with org_scope(row.organization_id), transaction.atomic():
        row = (
            IncidentObligation.objects.select_for_update()
            .select_related("incident__organization", "obligation")
            .get(pk=row.pk)
        )
        if not row.is_open:
            raise ValidationError(f"It is already {row.get_status_display().lower()}.")
        if submitted_at < row.incident.detected_at - timedelta(days=1):
            raise ValidationError(
                {"submitted_at": "That is before the incident was detected; check the date."}
            )
        row.status = ObligationStatus.SUBMITTED
        row.submitted_at, row.submitted_by = submitted_at, actor
        row.submission_reference = reference.strip()[:200]
        row.drafted_at = row.drafted_at or submitted_at
        row.next_fire_at = None
        row.save()
        late = row.due_at is not None and submitted_at > row.due_at
        record(
            row.incident,
            kind=TIMELINE_KIND,
            actor=actor,
            message=f"{row.obligation.reference or row.obligation.name} submitted "
            f"{_local(row.incident, submitted_at)}"
            + (f" (ref. {row.submission_reference})" if row.submission_reference else "")
            + (" — after the deadline" if late else ""),
            obligation=row.obligation.key,
        )
        evaluate(row.incident, now=now)
        return row


def obligations_path(incident: Incident) -> str:
    return reverse(
        "compliance:incident_obligations",
        kwargs={"org_slug": incident.organization.slug, "key": incident.key},
    )


def _people(organization_id: int, roles: list[str]) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(organization_id=organization_id, role__in=roles)
        .select_related("user")
        .order_by("pk")
    ]


def _claim(at, size):
    with scopes_disabled():
        due = IncidentObligation.objects.filter(next_fire_at__lte=at)
    return sweeps.claim(
        due,
        size,
        related=(
            "incident__organization",
            "incident__severity",
            "incident__commander",
            "obligation__framework",
        ),
        order=("next_fire_at", "pk"),
    )


def _fire(row: IncidentObligation, now) -> str | None:
    """Fire what is due on the row (reminder or escalation), mark it, plan the next one."""
    if not row.is_open or row.due_at is None or not row.obligation.framework.enabled:
        row.next_fire_at = None  # a switched-off framework reminds and escalates nothing
        row.save(update_fields=["next_fire_at"])
        return None
    incident, obligation = row.incident, row.obligation
    fired = None
    if row.escalated_at is None and row.due_at <= now:
        fired = "escalation"
        row.escalated_at = now
        row.reminded_50_at = row.reminded_50_at or now
        row.reminded_80_at = row.reminded_80_at or now
    elif row.reminded_80_at is None and row.remind_80_at and row.remind_80_at <= now:
        fired = "80"
        row.reminded_80_at = now
        row.reminded_50_at = row.reminded_50_at or now
    elif row.reminded_50_at is None and row.remind_50_at and row.remind_50_at <= now:
        fired = "50"
        row.reminded_50_at = now
    row.next_fire_at = _next_fire(row)
    row.save(update_fields=["escalated_at", "reminded_50_at", "reminded_80_at", "next_fire_at"])
    if fired is None:
        return None
    name = obligation.reference or obligation.name
    due = _local(incident, row.due_at)
    if fired == "escalation":
        record(
            incident,
            kind=TIMELINE_KIND,
            actor=None,
            message=f"{name} deadline missed (was due {due}); escalated to compliance staff",
            obligation=obligation.key,
        )
        notify.notify_users(
            organization=incident.organization,
            users=_people(incident.organization_id, [Role.COMPLIANCE, Role.ADMIN]),
            kind="compliance_deadline_missed",
            title=f"{incident.key} · {name} deadline missed",
            body=f"{obligation.name} for {incident.title} was due {due} and is "
            f"{row.get_status_display().lower()}. Recipients: "
            f"{', '.join(obligation.recipients.splitlines())}.",
            incident=incident,
            url=obligations_path(incident),
            key=f"obligation:{row.pk}:{row.due_at:%Y%m%d%H%M%S}:escalation",
            now=now,
        )
    else:
        left = row.due_at - now
        hours = max(int(left.total_seconds() // 3600), 0)
        notify.notify_users(
            organization=incident.organization,
            users=[incident.commander, *_people(incident.organization_id, [Role.COMPLIANCE])],
            kind="compliance_deadline_reminder",
            title=f"{incident.key} · {name} due {due} ({fired} % of the time used)",
            body=f"{obligation.name} for {incident.title} is due {due}, in about {hours} h. "
            f"Status: {row.get_status_display().lower()}.",
            incident=incident,
            url=obligations_path(incident),
            key=f"obligation:{row.pk}:{row.due_at:%Y%m%d%H%M%S}:{fired}",
            now=now,
        )
    return fired


def sweep(*, now: datetime.datetime | None = None, limit: int = 500) -> dict:
    """Fire due reminders and escalations across organisations; exactly once each."""
    fixed = now is not None
    counts = {"50": 0, "80": 0, "escalation": 0}
    done = 0
    while done < limit:
        at = now if fixed else timezone.now()
        with transaction.atomic():
            rows = _claim(at, min(CHUNK, limit - done))
            for row in rows:
                with org_scope(row.organization_id):
                    fired = _fire(row, at)
                if fired:
                    counts[fired] += 1
        done += len(rows)
        if not rows:
            break
    return counts
