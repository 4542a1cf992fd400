"""Reads behind the responders' team view: which teams a reader may look at, a team's open
incidents by severity and its action items overdue or due soon. Aggregate queries only."""

import datetime

from django.db.models import Count, Exists, OuterRef, QuerySet

from incidents.lifecycle import OPEN_STATES
from incidents.models import Incident
from postmortems.models import ActionItem
from reporting import kpis
from tenancy.models import Membership, Team, User
from tenancy.roles import Capability, can

DUE_SOON_DAYS = 7


def team_choices(*, organization, user: User, membership: Membership) -> QuerySet[Team]:
    """The teams the reader may look at: any team of the organisation for roles that view
    dashboards, otherwise the teams the reader is a member of (`is_mine` on each)."""
    teams = Team.objects.filter(organization=organization).annotate(
        is_mine=Exists(Team.members.through.objects.filter(team=OuterRef("pk"), user=user))
    )
    if not can(membership.role, Capability.VIEW_DASHBOARDS):
        teams = teams.filter(is_mine=True)
    return teams.order_by("name")


def open_by_severity(incidents: QuerySet[Incident], team: Team) -> list[kpis.Bar]:
    """The team's currently open counted incidents (owning or involved team) per severity,
    most severe first."""
    rows = (
        kpis.counted(incidents, kpis.Filters(team=team))
        .filter(status__in=OPEN_STATES)
        .values("severity", "severity__name", "severity__level")
        .annotate(count=Count("pk"))
        .order_by("severity__level")
        .values_list("severity", "severity__name", "count")
    )
    return [kpis.Bar(*row) for row in rows]


def action_items_due(
    incidents: QuerySet[Incident], team: Team, today: datetime.date
) -> QuerySet[ActionItem]:
    """The team's open or in-progress action items overdue or due within `DUE_SOON_DAYS`
    days, of post-mortems of incidents the reader may see, soonest first."""
    return (
        ActionItem.objects.filter(
            organization=team.organization_id,
            team=team,
            status__in=[ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS],
            due_date__lte=today + datetime.timedelta(days=DUE_SOON_DAYS),
            postmortem__incident__in=incidents.values("pk"),
        )
        .select_related("owner", "postmortem__incident")
        .order_by("due_date", "pk")
    )
