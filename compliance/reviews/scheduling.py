"""The deadlines of access reviews: a reminder to the reviewers who still have lines pending
before the due date, and an escalation to the organisation's admins once it has passed —
each exactly once.

The deadlines are the campaign's own columns (`remind_at`, `due_at`, `reminded_at`,
`escalated_at`): the sweeper claims due rows with SELECT … FOR UPDATE SKIP LOCKED, notifies and
marks them in the same transaction, so a restart or a second sweeper never loses or doubles a
firing."""

from datetime import datetime

from django.utils import timezone

from compliance.reviews.models import Campaign, ReviewLine
from compliance.reviews.services import campaign_path
from incidents import notify
from tenancy import sweeps
from tenancy.models import Membership, User
from tenancy.roles import Role


def _local(campaign: Campaign, when: datetime) -> str:
    return timezone.localtime(when, campaign.organization.tzinfo).strftime("%Y-%m-%d %H:%M %Z")


def _due_for_reminder(at):
    return Campaign.objects.filter(
        status=Campaign.Status.OPEN,
        reminded_at__isnull=True,
        escalated_at__isnull=True,
        remind_at__lte=at,
        due_at__gt=at,
    )


def _due_for_escalation(at):
    return Campaign.objects.filter(
        status=Campaign.Status.OPEN, escalated_at__isnull=True, due_at__lte=at
    )


def _pending_reviewers(campaign: Campaign) -> list[User]:
    ids = (
        ReviewLine.objects.filter(
            campaign=campaign, decision=ReviewLine.Decision.PENDING, reviewer__isnull=False
        )
        .values_list("reviewer_id", flat=True)
        .distinct()
    )
    return list(User.objects.filter(pk__in=list(ids)).order_by("email"))


def _remind(campaign: Campaign, now) -> None:
    campaign.reminded_at = now
    campaign.save(update_fields=["reminded_at"])
    due = _local(campaign, campaign.due_at)
    notify.notify_users(
        organization=campaign.organization,
        users=_pending_reviewers(campaign),
        kind="access_review_reminder",
        title=f"Access review due {due}",
        body=f"You still have lines to certify or revoke in the access review of "
        f"{campaign.organization.name}, due {due}.",
        url=campaign_path(campaign),
        key=f"access_review:{campaign.pk}:reminder",
        now=now,
    )


def _escalate(campaign: Campaign, now) -> None:
    campaign.escalated_at = now
    campaign.reminded_at = campaign.reminded_at or now  # never "due soon" after "overdue"
    campaign.save(update_fields=["escalated_at", "reminded_at"])
    due = _local(campaign, campaign.due_at)
    pending = ReviewLine.objects.filter(
        campaign=campaign, decision=ReviewLine.Decision.PENDING
    ).count()
    admins = [
        membership.user
        for membership in Membership.objects.filter(
            organization_id=campaign.organization_id, role=Role.ADMIN
        ).select_related("user")
    ]
    state = f"{pending} lines are still pending" if pending else "it is not signed off yet"
    notify.notify_users(
        organization=campaign.organization,
        users=admins,
        kind="access_review_overdue",
        title=f"Access review overdue (was due {due})",
        body=f"The access review of {campaign.organization.name} was due {due}: {state}.",
        url=campaign_path(campaign),
        key=f"access_review:{campaign.pk}:escalation",
        now=now,
    )


def _pass(due, act, moment, limit: int) -> int:
    return sweeps.run_pass(due, act, moment, limit, related=("organization",))


def sweep(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Escalate overdue reviews, then remind of those due soon; across organisations."""
    fixed = now is not None

    def moment():
        return now if fixed else timezone.now()

    return {
        "escalated": _pass(_due_for_escalation, _escalate, moment, limit),
        "reminded": _pass(_due_for_reminder, _remind, moment, limit),
    }
