"""Writes of reporting: executive report schedules, generating a report, and the sweeper that
renders, stores and e-mails each due scheduled report exactly once."""

import datetime
import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.pdf import content_hash
from incidents import notify
from reporting import executive
from reporting.models import ExecutiveReport, ReportSchedule
from tenancy.models import Membership, Organization, User
from tenancy.roles import Capability, can
from tenancy.scoping import org_scope

logger = logging.getLogger(__name__)

ATTACHMENT_KIND = "executive_report"


def _require(organization: Organization, actor: User, capability: Capability) -> None:
    membership = Membership.objects.filter(organization=organization, user=actor).first()
    if membership is None or not can(membership.role, capability):
        raise PermissionDenied


def schedule_next_run(schedule: ReportSchedule, *, after: datetime.datetime) -> datetime.datetime:
    return executive.next_run(
        frequency=schedule.frequency,
        weekday=schedule.weekday,
        day_of_month=schedule.day_of_month,
        hour=schedule.hour,
        tz=schedule.organization.tzinfo,
        after=after,
    )


@transaction.atomic
def schedule_save(
    *, organization: Organization, actor: User, schedule: ReportSchedule, members, now=None
) -> ReportSchedule:
    """Create or update `schedule` (validated by its form) and compute its next run."""
    _require(organization, actor, Capability.MANAGE_REPORTS)
    if schedule.pk is not None and schedule.organization_id != organization.pk:
        raise PermissionDenied("That schedule belongs to another organisation.")
    member_ids = set(
        Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    )
    if any(member.pk not in member_ids for member in members):
        raise PermissionDenied("Recipients must be members of this organisation.")
    schedule.organization = organization
    if schedule.pk is None:
        schedule.created_by = actor
    schedule.next_run_at = (
        schedule_next_run(schedule, after=now or timezone.now()) if schedule.is_enabled else None
    )
    schedule.save()
    schedule.members.set(members)
    return schedule


@transaction.atomic
def schedule_delete(*, organization: Organization, actor: User, schedule: ReportSchedule) -> None:
    """Delete a schedule; the reports it produced stay (without their schedule)."""
    _require(organization, actor, Capability.MANAGE_REPORTS)
    if schedule.organization_id != organization.pk:
        raise PermissionDenied("That schedule belongs to another organisation.")
    schedule.delete()


def _generate(
    *,
    organization: Organization,
    frequency: str,
    first: datetime.date,
    last: datetime.date,
    now: datetime.datetime,
    schedule: ReportSchedule | None = None,
    actor: User | None = None,
) -> ExecutiveReport:
    pdf = executive.render(
        organization=organization, first=first, last=last, frequency=frequency, generated_at=now
    )
    return ExecutiveReport.objects.create(
        organization=organization,
        schedule=schedule,
        period_start=first,
        period_end=last,
        generated_at=now,
        generated_by=actor,
        pdf=pdf,
        sha256=content_hash(pdf),
        page_count=executive.page_count(pdf),
        size=len(pdf),
    )


@transaction.atomic
def executive_report_generate(
    *, organization: Organization, actor: User, frequency: str, now=None
) -> ExecutiveReport:
    """ "Generate now": the report of the last full week or month, stored (not e-mailed)."""
    _require(organization, actor, Capability.MANAGE_REPORTS)
    now = now or timezone.now()
    first, last = executive.last_full_period(
        frequency, timezone.localtime(now, organization.tzinfo).date()
    )
    with org_scope(organization):
        return _generate(
            organization=organization,
            frequency=frequency,
            first=first,
            last=last,
            now=now,
            actor=actor,
        )


def recipients(schedule: ReportSchedule) -> list[tuple[str, str]]:
    """(name, address) of the schedule's recipients: members who still belong to the
    organisation, are active and may view dashboards; then the outside addresses."""
    roles = dict(
        Membership.objects.filter(organization_id=schedule.organization_id).values_list(
            "user_id", "role"
        )
    )
    people = []
    for user in schedule.members.order_by("email"):
        if user.is_active and user.email and can(roles.get(user.pk), Capability.VIEW_DASHBOARDS):
            people.append((user.display_name, user.email))
    seen = {address.lower() for _, address in people}
    people += [("", address) for address in schedule.emails if address.lower() not in seen]
    return people


def _message(schedule: ReportSchedule, report: ExecutiveReport) -> tuple[str, str]:
    organization = schedule.organization
    period = f"{report.period_start:%-d %b %Y} – {report.period_end:%-d %b %Y}"
    subject = f"{organization.name} · executive report · {period}"
    body = "\n".join(
        [
            f"The executive report of {organization.name} for {period} is attached "
            f"({report.page_count} page{'s' if report.page_count != 1 else ''}).",
            "",
            f"Schedule: {schedule.name}",
            f"File hash (sha256 of the attached PDF): {report.sha256}",
            "",
            "—",
            f"Sent by Vigil for {organization.name}.",
        ]
    )
    return subject, body


def run_schedule(schedule: ReportSchedule, *, now: datetime.datetime) -> ExecutiveReport:
    """Render, store and e-mail the report of `schedule`'s due run, and advance the schedule.
    The caller holds the row lock, in the same transaction."""
    organization = schedule.organization
    due = timezone.localtime(schedule.next_run_at or now, organization.tzinfo)
    first, last = executive.last_full_period(schedule.frequency, due.date())
    report = _generate(
        organization=organization,
        frequency=schedule.frequency,
        first=first,
        last=last,
        now=now,
        schedule=schedule,
    )
    to = recipients(schedule)
    if to:
        subject, body = _message(schedule, report)
        notify.email_with_attachments(
            organization=organization,
            to=to,
            subject=subject,
            body=body,
            attachments=[{"kind": ATTACHMENT_KIND, "id": report.pk}],
            key=f"executive:{report.pk}",
            now=now,
        )
    schedule.last_run_at = now
    schedule.next_run_at = schedule_next_run(schedule, after=max(now, schedule.next_run_at or now))
    schedule.save(update_fields=["last_run_at", "next_run_at"])
    return report


def sweep_schedules(*, now: datetime.datetime | None = None, limit: int = 50) -> int:
    """Run every enabled schedule that is due, across organisations, one transaction per
    schedule: claimed with SELECT … FOR UPDATE SKIP LOCKED, so two sweeps at once never run the
    same schedule, and a run's report, e-mails and next run commit together or not at all.
    A schedule whose run fails is logged and left due for the next sweep."""
    done, failed = 0, []
    while done < limit:
        at = now or timezone.now()
        schedule = None
        try:
            with transaction.atomic():
                with scopes_disabled():  # the sweeper claims across organisations
                    schedule = (
                        ReportSchedule.objects.filter(is_enabled=True, next_run_at__lte=at)
                        .exclude(pk__in=failed)
                        .select_for_update(skip_locked=True, of=("self",))
                        .select_related("organization")
                        .order_by("next_run_at", "pk")
                        .first()
                    )
                if schedule is None:
                    break
                with org_scope(schedule.organization_id):
                    run_schedule(schedule, now=at)
        except Exception:
            if schedule is None:
                raise
            logger.exception("Executive report schedule %s failed", schedule.pk)
            failed.append(schedule.pk)
            continue
        done += 1
    return done


def load_attachment(org_id: int, report_id: int) -> tuple[str, bytes, str]:
    """The stored PDF of an executive report, for incidents.notify to attach when it sends."""
    with org_scope(org_id):
        report = ExecutiveReport.objects.get(pk=report_id)
        return report.filename, bytes(report.pdf), "application/pdf"
