"""Reads of incidents, always scoped to an organisation and to what the user may see.
`incident_list` is the one visibility rule every list, count, search and export uses."""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from incidents.lifecycle import OPEN_STATES, Status
from incidents.models import Incident, IncidentUserObjectPermission
from tenancy.models import Membership, Organization, User
from tenancy.roles import Role

KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9]{1,9}-\d+$"


def _granted(user: User):
    return IncidentUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user=user, permission__codename="view_incident"
    )


def visibility_filter(*, user: User, membership: Membership | None) -> Q:
    """Admins see everything; others see unrestricted incidents and those granted to them."""
    if membership is not None and membership.role == Role.ADMIN:
        return Q()
    return Q(is_restricted=False) | Q(Exists(_granted(user)))


def counted_in_metrics() -> Q:
    """The incidents that count in metrics (the query twin of `Incident.counts_in_metrics`):
    real incidents, neither dismissed as false positives nor duplicates of another. The
    reporting dashboard and the incident list's "counted" filter both use this one rule."""
    return Q(kind=Incident.Kind.REAL, duplicate_of__isnull=True) & ~Q(
        status__in=[Status.DISMISSED, Status.DUPLICATE]
    )


def incident_list(
    *, organization: Organization, user: User, membership: Membership | None
) -> QuerySet[Incident]:
    """Every incident of `organization` that `user` may see, with what list rows show."""
    return (
        Incident.objects.filter(organization=organization)
        .filter(visibility_filter(user=user, membership=membership))
        .select_related("severity", "category", "primary_service", "owning_team", "commander")
    )


def with_sla(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotate each incident with its nearest running SLA due time and whether a phase is
    breached and still unmet — two subqueries, whatever the page size."""
    from incidents.models import SlaTimer

    running = SlaTimer.objects.filter(
        incident=OuterRef("pk"),
        met_at__isnull=True,
        stopped_at__isnull=True,
        breached_at__isnull=True,
        paused_at__isnull=True,
    ).order_by("due_at")
    breached = SlaTimer.objects.filter(
        incident=OuterRef("pk"),
        breached_at__isnull=False,
        met_at__isnull=True,
        stopped_at__isnull=True,
    )
    return queryset.annotate(
        sla_due=Subquery(running.values("due_at")[:1]),
        sla_phase=Subquery(running.values("phase")[:1]),
        sla_breached=Exists(breached),
    )


def incident_get(
    *, organization: Organization, user: User, membership: Membership | None, key: str
) -> Incident:
    """One visible incident by key (case-insensitive), or 404: restricted and missing look
    alike."""
    incident = (
        incident_list(organization=organization, user=user, membership=membership)
        .filter(key__iexact=key)
        .first()
    )
    if incident is None:
        raise Http404("No such incident.")
    return incident


def incident_search(queryset: QuerySet[Incident], text: str) -> QuerySet[Incident]:
    """Full-text search over title and description, plus key and title substrings."""
    text = (text or "").strip()
    if not text:
        return queryset
    vector = SearchVector("title", "description", config="english")
    query = SearchQuery(text, config="english", search_type="websearch")
    # Match with @@, not rank > 0: ts_rank gives non-matching rows 1e-20 for multi-word queries.
    return queryset.annotate(search_vector=vector, search_rank=SearchRank(vector, query)).filter(
        Q(search_vector=query) | Q(key__iexact=text) | Q(title__icontains=text)
    )


def similar_open_incidents(
    *, organization: Organization, user: User, membership, title: str, service_id: int | None
) -> QuerySet[Incident]:
    """Open incidents of the last 24 h on the same service or with a similar title — offered on
    the create form so the reporter can join one instead of declaring a duplicate."""
    since = timezone.now() - timezone.timedelta(hours=24)
    base = incident_list(organization=organization, user=user, membership=membership).filter(
        status__in=OPEN_STATES, reported_at__gte=since
    )
    condition = Q()
    if service_id:
        condition |= Q(primary_service_id=service_id) | Q(affected_services__id=service_id)
    words = [w for w in (title or "").split() if len(w) > 3]
    if words:
        vector = SearchVector("title", config="english")
        query = None
        for word in words[:8]:
            part = SearchQuery(word, config="english")
            query = part if query is None else query | part
        matching = (
            Incident.objects.filter(organization=organization).annotate(v=vector).filter(v=query)
        )
        condition |= Q(pk__in=matching.values("pk"))
    if not condition:
        return base.none()
    return base.filter(condition).distinct().order_by("-reported_at")[:5]
