"""Reads about organisations and people, always for one organisation."""

from django.db.models import Count, Prefetch, QuerySet

from tenancy.models import Invitation, Membership, Organization, Team, User


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def open_invitation_list(*, organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def team_list(*, organization: Organization) -> QuerySet[Team]:
    return (
        Team.objects.filter(organization=organization)
        .annotate(member_count=Count("members"))
        .prefetch_related(Prefetch("members", queryset=User.objects.order_by("full_name")))
        .order_by("name")
    )
