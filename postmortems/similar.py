""" "Similar past incidents" for the incident page: resolved or closed incidents of the same
organisation whose published post-mortem reads like this incident.

The score is the full-text rank of the incident's title and description (any of their words,
stemmed with the knowledge base's `english` configuration) against each post-mortem's weighted
vector, plus a boost for the same primary service and for the same category. An incident on
the same service with no words in common still qualifies, ranked on its boost alone. One
query; restricted incidents filtered by the one visibility rule
(incidents.selectors.incident_list)."""

import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Case, ExpressionWrapper, F, FloatField, Q, QuerySet, Value, When
from django.urls import reverse

from incidents.lifecycle import Status
from incidents.models import Incident
from incidents.selectors import incident_list
from postmortems.models import PostMortem
from postmortems.search import CONFIG
from tenancy.models import Membership, User

LIMIT = 5
MAX_WORDS = 40
SERVICE_BOOST = 0.2
CATEGORY_BOOST = 0.1
_WORD = re.compile(r"\w[\w.-]*\w|\w", re.UNICODE)


def words_query(text: str) -> SearchQuery | None:
    """Any of the words of `text` (an OR query): one shared word is enough to be similar; the
    rank then prefers more, rarer-in-the-document and better-weighted ones."""
    seen: list[str] = []
    for word in _WORD.findall(text or ""):
        word = word.lower()
        if len(word) > 2 and word not in seen:
            seen.append(word)
        if len(seen) >= MAX_WORDS:
            break
    query = None
    for word in seen:
        part = SearchQuery(word, config=CONFIG, search_type="plain")
        query = part if query is None else query | part
    return query


def similar_incidents(
    *, incident: Incident, user: User, membership: Membership | None, limit: int = LIMIT
) -> QuerySet[Incident]:
    """Up to `limit` resolved or closed incidents with a published post-mortem, most similar
    first; each with `similarity` and `postmortem` (select_related)."""
    candidates = (
        incident_list(organization=incident.organization_id, user=user, membership=membership)
        .filter(
            status__in=(Status.RESOLVED, Status.CLOSED),
            postmortem__status=PostMortem.Status.PUBLISHED,
        )
        .exclude(pk=incident.pk)
    )
    same_service = (
        Q(primary_service_id=incident.primary_service_id)
        if incident.primary_service_id
        else Q(pk__in=[])
    )
    same_category = Q(category_id=incident.category_id) if incident.category_id else Q(pk__in=[])
    boost = Case(When(same_service, then=Value(SERVICE_BOOST)), default=Value(0.0)) + Case(
        When(same_category, then=Value(CATEGORY_BOOST)), default=Value(0.0)
    )
    query = words_query(f"{incident.title} {incident.description}")
    if query is None:
        matching = same_service
        rank = Value(0.0)
    else:
        matching = Q(postmortem__search_vector=query) | same_service
        rank = SearchRank(F("postmortem__search_vector"), query)
    return (
        candidates.filter(matching)
        .annotate(similarity=ExpressionWrapper(rank + boost, output_field=FloatField()))
        .select_related("postmortem")
        .order_by("-similarity", "-resolved_at", "-pk")[:limit]
    )


def postmortem_url(org_slug: str, key: str) -> str:
    """The post-mortem document page of incident `key` (/o/<org>/postmortems/<KEY>/)."""
    return reverse("postmortems:postmortem_detail", kwargs={"org_slug": org_slug, "key": key})
