"""Reads of access reviews, always within one organisation: campaigns with their progress,
lines with the live state of their access, and each reviewer's pending work."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from compliance.reviews.models import Campaign, ReviewLine
from compliance.reviews.services import Current, describe_grant, describe_membership
from incidents.models import Incident, IncidentGroupObjectPermission, IncidentUserObjectPermission
from tenancy.models import Membership, Organization, User

PENDING = ReviewLine.Decision.PENDING


def _progress_counts() -> dict:
    return {
        "line_count": Count("lines"),
        "decided_count": Count("lines", filter=~Q(lines__decision=PENDING)),
        "revoked_count": Count("lines", filter=Q(lines__decision=ReviewLine.Decision.REVOKED)),
        "flagged_count": Count(
            "lines", filter=Q(lines__decision=PENDING, lines__reviewer__isnull=True)
        ),
    }


def campaign_list(*, organization: Organization) -> QuerySet[Campaign]:
    """The organisation's campaigns, newest first, each with its line counts."""
    return (
        Campaign.objects.filter(organization=organization)
        .select_related("started_by", "signed_off_by")
        .annotate(**_progress_counts())
        .order_by("-started_at", "-pk")
    )


def campaign_get(*, organization: Organization, pk: int) -> Campaign:
    return campaign_list(organization=organization).get(pk=pk)


def percent(done: int, total: int) -> int:
    """Whole per cent done; an empty campaign is complete."""
    return 100 if not total else done * 100 // total


@dataclass(frozen=True)
class ReviewerProgress:
    reviewer: User | None
    total: int
    decided: int

    @property
    def pending(self) -> int:
        return self.total - self.decided

    @property
    def percent(self) -> int:
        return percent(self.decided, self.total)


def reviewer_progress(campaign: Campaign) -> list[ReviewerProgress]:
    """Per reviewer (None: flagged lines nobody can review): lines assigned and decided."""
    rows = (
        ReviewLine.objects.filter(campaign=campaign)
        .values("reviewer")
        .annotate(total=Count("pk"), decided=Count("pk", filter=~Q(decision=PENDING)))
        .order_by()
    )
    users = User.objects.in_bulk([row["reviewer"] for row in rows if row["reviewer"]])
    result = [
        ReviewerProgress(users.get(row["reviewer"]), row["total"], row["decided"]) for row in rows
    ]
    return sorted(
        result, key=lambda p: (p.reviewer is None, p.reviewer.email if p.reviewer else "")
    )


def with_current_access(lines: QuerySet[ReviewLine]) -> QuerySet[ReviewLine]:
    """Annotate each line with the live state of its access (three subqueries, whatever the
    page size): the member's current role, whether the grant still exists, whether the
    incident is still restricted."""
    user_grant = IncidentUserObjectPermission.objects.filter(
        user_id=OuterRef("user_id"),
        content_object_id=OuterRef("incident_id"),
        permission__codename=OuterRef("permission"),
    )
    group_grant = IncidentGroupObjectPermission.objects.filter(
        group_id=OuterRef("group_id"),
        content_object_id=OuterRef("incident_id"),
        permission__codename=OuterRef("permission"),
    )
    return lines.annotate(
        current_role=Subquery(
            Membership.objects.filter(
                organization_id=OuterRef("organization_id"), user_id=OuterRef("user_id")
            ).values("role")[:1]
        ),
        user_grant_exists=Exists(user_grant),
        group_grant_exists=Exists(group_grant),
        incident_restricted=Subquery(
            Incident.objects.filter(pk=OuterRef("incident_id")).values("is_restricted")[:1]
        ),
    )


def current_of(line: ReviewLine) -> Current:
    """The live state of an annotated line (see `with_current_access`)."""
    if line.kind == ReviewLine.Kind.MEMBERSHIP:
        return describe_membership(line, line.current_role)
    exists = (
        line.user_grant_exists if line.kind == ReviewLine.Kind.GRANT else line.group_grant_exists
    )
    return describe_grant(bool(exists and line.incident_id), line.incident_restricted)


def line_list(*, campaign: Campaign) -> QuerySet[ReviewLine]:
    """The campaign's lines with what their rows show."""
    return with_current_access(
        ReviewLine.objects.filter(campaign=campaign).select_related(
            "user", "group", "reviewer", "decided_by"
        )
    ).order_by("kind", "subject", "incident_key", "pk")


def pending_for(*, organization: Organization, user: User) -> QuerySet[ReviewLine]:
    """The lines of open campaigns waiting for `user`'s decision."""
    return with_current_access(
        ReviewLine.objects.filter(
            organization=organization,
            reviewer=user,
            decision=PENDING,
            campaign__status=Campaign.Status.OPEN,
        ).select_related("campaign", "user", "group", "reviewer", "decided_by")
    ).order_by("campaign__due_at", "kind", "subject", "pk")
