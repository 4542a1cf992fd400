"""Retention: the frameworks' minimums, policies, legal holds, the purge plan (what the next
purge would remove, and what holds keep back), the purge itself with its receipts, and the
storage figures of the retention page.

The purge is the only code path that removes audit rows (through tenancy.audit.retention_gate,
see compliance/retention/types.py). It runs per organisation in one transaction under a
PostgreSQL advisory lock: a second purge of the same organisation that starts meanwhile skips
it instead of counting the same rows again."""

import datetime as dt
import logging
import uuid
import zoneinfo
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import Framework, RecordType
from compliance.records import REGISTRY, Retained
from compliance.retention.models import LegalHold, PurgeAction, PurgeReceipt, RetentionPolicy
from tenancy.audit import audit_context
from tenancy.models import Organization, User
from tenancy.rls import as_owner

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock(namespace, org id): the namespace keeps clear of other locks.
LOCK_NAMESPACE = 880_108
# Rows one run removes per record type at most (lowest ids first, so audit entries stay an
# unbroken run); the rest waits for the next day. Bounds the purge's transaction.
MAX_ROWS_PER_RUN = 50_000


# — durations and the frameworks' minimums ————————————————————————————————————————————


def duration_days(*, years: int = 0, months: int = 0, days: int = 0, today=None) -> int:
    """Calendar days in the duration, counted back from today (so "7 years" is what a
    framework's 7 years is, leap days included)."""
    today = today or timezone.localdate()
    return (today - (today - relativedelta(years=years, months=months, days=days))).days


def describe_days(days: int) -> str:
    """“7 years”, “90 days”, “about 2 years 3 months” — for people; the days are the truth."""
    years, rest = divmod(days, 365)
    months = rest // 30
    if years and rest <= years // 4 + 1:
        return f"{years} year{'s' if years != 1 else ''}"
    if not years and days % 30 == 0 and days >= 30:
        return f"{days // 30} month{'s' if days != 30 else ''}"
    if not years and days < 60:
        return f"{days} day{'s' if days != 1 else ''}"
    parts = []
    if years:
        parts.append(f"{years} year{'s' if years != 1 else ''}")
    if months:
        parts.append(f"{months} month{'s' if months != 1 else ''}")
    return "about " + " ".join(parts) if parts else f"{days} days"


@dataclass(frozen=True)
class Minimum:
    """The longest retention minimum the enabled frameworks set for one record type."""

    years: int
    frameworks: tuple[str, ...]  # the frameworks' short names, e.g. ("SOX",)
    days: int

    @property
    def names(self) -> str:
        return " and ".join(self.frameworks)


def retention_minimum(organization: Organization, record_type: str) -> Minimum | None:
    with scopes_disabled():
        frameworks = list(Framework.objects.filter(organization=organization, enabled=True))
    best, names = 0, []
    for framework in frameworks:
        years = int((framework.retention_minimums or {}).get(record_type) or 0)
        if years > best:
            best, names = years, [framework.get_key_display()]
        elif years and years == best:
            names.append(framework.get_key_display())
    if not best:
        return None
    return Minimum(years=best, frameworks=tuple(sorted(names)), days=duration_days(years=best))


def check_policy_duration(organization: Organization, record_type: str, days: int) -> None:
    """Refuse a policy shorter than the longest minimum of the enabled frameworks."""
    minimum = retention_minimum(organization, record_type)
    if minimum and days < minimum.days:
        label = RecordType(record_type).label
        raise ValidationError(
            f"{label} must be kept at least {minimum.years} years while {minimum.names} "
            f"{'is' if len(minimum.frameworks) == 1 else 'are'} enabled "
            f"({minimum.days} days); this policy keeps them {describe_days(days)} "
            f"({days} days).",
            code="below_framework_minimum",
        )


# — policies and holds —————————————————————————————————————————————————————————————————


@transaction.atomic
def retention_policy_save(
    *,
    organization: Organization,
    actor: User,
    record_type: str,
    days: int,
    action: str,
    duration_text: str = "",
) -> RetentionPolicy:
    """Create or change the organisation's policy for one record type."""
    retained = REGISTRY.get(record_type)
    if retained is None:
        raise ValidationError("Retention does not know this record type.")
    if days <= 0:
        raise ValidationError("A retention period must be at least one day.")
    if action not in retained.actions:
        raise ValidationError(
            f"{RecordType(record_type).label} can only be "
            + " or ".join(PurgeAction(a).label.lower() + "d" for a in retained.actions)
            + "."
        )
    ensure_frameworks(organization.pk)
    check_policy_duration(organization, record_type, days)
    policy = (
        RetentionPolicy.objects.select_for_update()
        .filter(organization=organization, record_type=record_type)
        .first()
    ) or RetentionPolicy(organization=organization, record_type=record_type)
    policy.days = days
    policy.action = action
    policy.duration_text = duration_text[:60]
    policy.updated_by = actor
    policy.updated_at = timezone.now()
    policy.save()
    return policy


@transaction.atomic
def retention_policy_remove(*, organization: Organization, record_type: str) -> None:
    """No policy: keep this record type forever."""
    for policy in RetentionPolicy.objects.filter(
        organization=organization, record_type=record_type
    ):
        policy.delete()


@transaction.atomic
def legal_hold_create(
    *,
    organization: Organization,
    actor: User,
    matter: str,
    custodian: User,
    description: str = "",
    whole_organization: bool = False,
    incidents=(),
    services=(),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> LegalHold:
    """Put a matter on hold: nothing in its scope is purged until it is released. Waits for a
    purge of the organisation that is running (it took the plan's holds at its start), so a
    hold is never committed behind a purge's back."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, organization.pk])
    incidents, services = list(incidents), list(services)
    if not (whole_organization or incidents or services or date_from or date_to):
        raise ValidationError(
            "Choose what the hold covers: the whole organisation, "
            "incidents, services or a date range."
        )
    if date_from and date_to and date_from > date_to:
        raise ValidationError("The date range ends before it starts.")
    foreign = [o for o in [*incidents, *services] if o.organization_id != organization.pk]
    if foreign or not custodian.memberships.filter(organization=organization).exists():
        raise ValidationError("The hold can only cover this organisation's records and people.")
    hold = LegalHold.objects.create(
        organization=organization,
        matter=matter,
        description=description,
        whole_organization=whole_organization,
        date_from=date_from,
        date_to=date_to,
        custodian=custodian,
        created_by=actor,
    )
    hold.incidents.set(incidents)
    hold.services.set(services)
    return hold


@transaction.atomic
def legal_hold_release(*, hold: LegalHold, actor: User, note: str = "") -> LegalHold:
    """End a hold; the row stays with who released it and when. The next purge may then
    remove what it kept."""
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise ValidationError("This hold was already released.")
    hold.released_at = timezone.now()
    hold.released_by = actor
    hold.release_note = note
    hold.save(update_fields=["released_at", "released_by", "release_note"])
    return hold


# — the plan ———————————————————————————————————————————————————————————————————————————

# Not Q(): an empty Q vanishes when OR-ed with another (Q() | Q(x) is Q(x)), and a
# whole-organisation hold must not shrink to the next hold's scope.
ALL = Q(pk__isnull=False)
NOTHING = Q(pk__in=[])


def _day_start(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def hold_q(retained: Retained, hold: LegalHold, tz) -> Q:
    """Which rows of this type the hold reaches. A scope the type cannot be matched against
    (a hold on incidents, and a type that knows no incidents) holds every row: a legal hold
    errs on the side of keeping."""
    if hold.whole_organization:
        return ALL
    incident_ids = [i.pk for i in hold.incidents.all()]
    service_ids = [s.pk for s in hold.services.all()]
    parts = []
    if incident_ids:
        if retained.incident_path:
            parts.append(Q(**{f"{retained.incident_path}__in": incident_ids}))
        elif retained.hold_filter is None:
            return ALL
    if service_ids:
        paths = [p for p in (retained.service_path, *retained.extra_service_paths) if p]
        if paths:
            parts.extend(Q(**{f"{p}__in": service_ids}) for p in paths)
        elif retained.hold_filter is None:
            return ALL
    if retained.hold_filter is not None and (incident_ids or service_ids):
        extra = retained.hold_filter(hold)
        if extra is not None:
            parts.append(extra)
    if hold.date_from or hold.date_to:
        start, end = retained.period or (retained.date_field, retained.date_field)
        overlap = Q()
        if hold.date_to:
            overlap &= Q(**{f"{start}__lt": _day_start(hold.date_to + dt.timedelta(days=1), tz)})
        if hold.date_from:
            overlap &= Q(**{f"{end}__gte": _day_start(hold.date_from, tz)}) | Q(
                **{f"{end}__isnull": True}
            )
        parts.append(overlap)
    return reduce(or_, parts) if parts else NOTHING


@dataclass
class HeldBack:
    hold: LegalHold
    count: int


@dataclass
class TypePlan:
    """What the next purge would do to one record type of one organisation."""

    retained: Retained
    policy: RetentionPolicy | None
    minimum: Minimum | None
    effective_days: int | None = None
    cutoff: dt.datetime | None = None
    past_retention: int = 0
    held: list[HeldBack] = field(default_factory=list)
    held_total: int = 0
    count: int = 0
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None
    queryset: QuerySet | None = None

    @property
    def key(self) -> str:
        return self.retained.key

    @property
    def label(self) -> str:
        return self.retained.label

    @property
    def kept_otherwise(self) -> int:
        """Past retention and not held, yet kept (open incidents' links, the audit chain's
        unbroken run, incidents not closed)."""
        return max(self.past_retention - self.held_total - self.count, 0)

    @property
    def raised_by_minimum(self) -> bool:
        return bool(self.policy and self.effective_days and self.effective_days > self.policy.days)


def ordered_types() -> list[Retained]:
    order = {value: n for n, value in enumerate(RecordType.values)}
    return sorted(REGISTRY.values(), key=lambda r: (order.get(r.key, 99), r.key))


def _candidates(
    retained: Retained, organization: Organization, days: int, now, holds, tz
) -> tuple[QuerySet, QuerySet, list[HeldBack], int, dt.datetime]:
    cutoff = now - dt.timedelta(days=days)
    past = retained.rows(organization.pk).filter(**{f"{retained.date_field}__lt": cutoff})
    held, queries = [], []
    for hold in holds:
        q = hold_q(retained, hold, tz)
        queries.append(q)
        count = past.filter(q).values("pk").distinct().count()
        if count:
            held.append(HeldBack(hold=hold, count=count))
    if queries:
        held_ids = past.filter(reduce(or_, queries)).values("pk")
        held_total = past.filter(pk__in=held_ids).count()
        candidates = past.exclude(pk__in=held_ids)
    else:
        held_total, candidates = 0, past
    if retained.eligible is not None:
        candidates = retained.eligible(candidates, organization.pk)
    return past, candidates, held, held_total, cutoff


def purge_plan(organization: Organization, *, now=None) -> list[TypePlan]:
    """Per registered record type: its policy, the frameworks' minimum, and what the next
    purge would remove (counts, oldest and newest, what each active hold keeps back)."""
    now = now or timezone.now()
    tz = zoneinfo.ZoneInfo(organization.timezone or "UTC")
    plans = []
    with scopes_disabled():
        policies = {
            p.record_type: p for p in RetentionPolicy.objects.filter(organization=organization)
        }
        holds = list(
            LegalHold.objects.filter(organization=organization, released_at__isnull=True)
            .prefetch_related("incidents", "services")
            .order_by("created_at", "pk")
        )
        for retained in ordered_types():
            policy = policies.get(retained.key)
            plan = TypePlan(
                retained=retained,
                policy=policy,
                minimum=retention_minimum(organization, retained.key),
            )
            plans.append(plan)
            if policy is None:
                continue
            plan.effective_days = max(policy.days, plan.minimum.days if plan.minimum else 0)
            past, candidates, held, held_total, cutoff = _candidates(
                retained, organization, plan.effective_days, now, holds, tz
            )
            plan.cutoff, plan.held, plan.held_total = cutoff, held, held_total
            plan.past_retention = past.count()
            summary = candidates.aggregate(
                n=Count("pk", distinct=True),
                oldest=Min(retained.date_field),
                newest=Max(retained.date_field),
            )
            plan.count, plan.oldest, plan.newest = (
                summary["n"],
                summary["oldest"],
                summary["newest"],
            )
            plan.queryset = candidates
    return plans


# — the purge ——————————————————————————————————————————————————————————————————————————


@dataclass
class PurgeRun:
    run_id: uuid.UUID
    receipts: list[PurgeReceipt]
    skipped: bool = False  # another purge of this organisation was running


def retention_purge(
    *,
    organization: Organization,
    actor: User | None = None,
    origin: str = "web",
    dry_run: bool = False,
    now=None,
) -> PurgeRun:
    """Delete or anonymise what is past retention and not held, per record type with a
    policy, and write a receipt for each type that lost rows (for a dry run: each type with a
    policy, nothing removed). Idempotent: what is gone is not found again."""
    run_id = uuid.uuid4()
    with (
        as_owner(),  # the one routine that removes audit rows runs as the tables' owner
        scopes_disabled(),
        transaction.atomic(),
        audit_context(actor=actor, origin=origin),
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, organization.pk]
            )
            if not cursor.fetchone()[0]:
                return PurgeRun(run_id=run_id, receipts=[], skipped=True)
        receipts = []
        for plan in purge_plan(organization, now=now):
            if plan.policy is None:
                continue
            retained = plan.retained
            pks = list(
                plan.queryset.order_by("pk")
                .values_list("pk", flat=True)
                .distinct()[:MAX_ROWS_PER_RUN]
            )
            if retained.purge is None and not dry_run:
                continue  # nothing can remove this type; the preview says what is due
            chosen = retained.rows(organization.pk).filter(pk__in=pks)
            dates = chosen.aggregate(
                oldest=Min(retained.date_field), newest=Max(retained.date_field)
            )
            count = len(pks) if dry_run or not pks else retained.purge(chosen)
            if not (count or dry_run):
                continue
            receipt = PurgeReceipt(
                organization=organization,
                run_id=run_id,
                record_type=retained.key,
                action=plan.policy.action,
                count=count,
                held_back=plan.held_total,
                policy=plan.policy,
                policy_days=plan.policy.days,
                effective_days=plan.effective_days,
                cutoff=plan.cutoff,
                oldest=dates["oldest"],
                newest=dates["newest"],
                dry_run=dry_run,
                origin=origin[:120],
                run_by=actor,
            )
            if retained.key == RecordType.AUDIT_ENTRIES and count and not receipt.dry_run:
                from compliance.models import AuditChain

                chain = AuditChain.objects.filter(organization=organization).first()
                if chain is not None:
                    receipt.anchor_hash = chain.anchor_hash
                    receipt.anchor_entry_id = chain.anchor_entry_id
            receipt.save()
            receipts.append(receipt)
        return PurgeRun(run_id=run_id, receipts=receipts)


def purge_all_organizations(*, origin: str) -> dict[str, int]:
    """The daily run: every organisation that has a policy. Returns rows removed per
    organisation (-1: skipped, another purge was running; -2: failed, see the log)."""
    with scopes_disabled():
        org_ids = list(RetentionPolicy.objects.values_list("organization_id", flat=True).distinct())
    totals = {}
    for organization in Organization.objects.filter(pk__in=org_ids).order_by("pk"):
        try:
            run = retention_purge(organization=organization, origin=origin)
        except Exception:
            # One organisation's failure (rolled back whole) must not stop the others.
            logger.exception("retention purge failed for organisation %s", organization.pk)
            totals[organization.slug] = -2
            continue
        totals[organization.slug] = -1 if run.skipped else sum(r.count for r in run.receipts)
    return totals


# — storage and what-if ————————————————————————————————————————————————————————————————


@dataclass
class Storage:
    retained: Retained
    rows: int
    bytes: int


def _measure(retained: Retained, queryset: QuerySet) -> int:
    from compliance.retention.types import table_bytes

    return (retained.measure or table_bytes)(queryset)


def storage(organization: Organization) -> list[Storage]:
    """How many rows of each type the organisation holds and (an estimate of) their size."""
    result = []
    with scopes_disabled():
        for retained in ordered_types():
            rows = retained.rows(organization.pk)
            result.append(
                Storage(retained=retained, rows=rows.count(), bytes=_measure(retained, rows))
            )
    return result


@dataclass
class WhatIf:
    retained: Retained
    days: int
    rows: int
    bytes: int
    held: int
    minimum: Minimum | None

    @property
    def below_minimum(self) -> bool:
        return bool(self.minimum and self.days < self.minimum.days)


def what_if(organization: Organization, *, record_type: str, days: int, now=None) -> WhatIf:
    """What a policy of `days` for `record_type` would free today, holds respected, without
    saving anything."""
    now = now or timezone.now()
    tz = zoneinfo.ZoneInfo(organization.timezone or "UTC")
    retained = REGISTRY[record_type]
    with scopes_disabled():
        holds = list(
            LegalHold.objects.filter(
                organization=organization, released_at__isnull=True
            ).prefetch_related("incidents", "services")
        )
        _, candidates, _, held_total, _ = _candidates(retained, organization, days, now, holds, tz)
        ids = candidates.values("pk")
        rows = retained.rows(organization.pk).filter(pk__in=ids)
        return WhatIf(
            retained=retained,
            days=days,
            rows=rows.count(),
            bytes=_measure(retained, rows),
            held=held_total,
            minimum=retention_minimum(organization, record_type),
        )
