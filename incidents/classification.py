"""Assisted classification: propose a category and severity from the organisation's own closed
incidents with similar text (PostgreSQL full-text search) and the same service, with the
confidence and the incidents it learned from. Reads only."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, FloatField, Q
from django.db.models.expressions import RawSQL

from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from tenancy.models import Organization

NEIGHBOURS = 15
SERVICE_BOOST = 0.5
MIN_CONFIDENCE = 0.4


@dataclass
class Suggestion:
    kind: str  # "category" or "severity"
    value: object
    confidence: float
    learned_from: list = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(self.confidence * 100)


# The words of the new text, OR-ed: "checkout errors" finds incidents with either word.
_ANY_WORD_QUERY = """
    to_tsquery('english', coalesce(nullif(array_to_string(array(
        SELECT quote_literal(lexeme) FROM unnest(tsvector_to_array(to_tsvector('english', %s)))
        AS lexeme), ' | '), ''), 'nothing_matches_this'))
"""


def similar_closed_incidents(*, organization: Organization, text: str, service_id: int | None):
    """Closed, real incidents ranked by text similarity (and a boost for the same service)."""
    vector = "to_tsvector('english', coalesce(title, '') || ' ' || coalesce(description, ''))"
    rank = RawSQL(f"ts_rank({vector}, {_ANY_WORD_QUERY})", [text], output_field=FloatField())  # noqa: S611
    same_service = Q(primary_service_id=service_id) if service_id else Q(pk__in=[])
    queryset = (
        Incident.objects.filter(
            organization=organization,
            status=Status.CLOSED,
            kind=Incident.Kind.REAL,
        )
        .annotate(text_rank=rank)
        .filter(same_service | Q(text_rank__gt=0))
        .select_related("category", "severity")
    )
    neighbours = list(queryset.order_by(-F("text_rank"), "-number")[: NEIGHBOURS * 2])
    for incident in neighbours:
        incident.similarity = float(incident.text_rank or 0) + (
            SERVICE_BOOST if service_id and incident.primary_service_id == service_id else 0
        )
    neighbours.sort(key=lambda i: (-i.similarity, -i.number))
    return neighbours[:NEIGHBOURS]


def _vote(neighbours, attribute: str, kind: str) -> Suggestion | None:
    weights = defaultdict(float)
    examples = defaultdict(list)
    for incident in neighbours:
        value = getattr(incident, attribute)
        if value is None:
            continue
        weights[value] += incident.similarity
        examples[value].append(incident)
    total = sum(weights.values())
    if not total:
        return None
    value, weight = max(weights.items(), key=lambda item: item[1])
    return Suggestion(kind, value, weight / total, examples[value][:5])


def suggest(*, organization: Organization, text: str, service_id: int | None = None):
    """Category and severity proposals (each may be None when there is nothing to learn from)."""
    if not text.strip() and not service_id:
        return {"category": None, "severity": None, "list": [], "neighbours": []}
    neighbours = similar_closed_incidents(
        organization=organization, text=text, service_id=service_id
    )
    category = _vote(neighbours, "category", "category")
    severity = _vote(neighbours, "severity", "severity")
    return {
        "category": category,
        "severity": severity,
        "list": [s for s in (category, severity) if s is not None],
        "neighbours": neighbours,
    }


def data_quality(*, organization: Organization) -> dict:
    """The indicators that tell an organisation whether assisted mode has enough to learn from."""
    closed = Incident.objects.filter(
        organization=organization, status=Status.CLOSED, kind=Incident.Kind.REAL
    )
    total_closed = closed.count()
    classified = closed.filter(category__isnull=False)
    per_category = list(
        classified.values("category__name").annotate(n=Count("pk")).order_by("-n", "category__name")
    )
    classified_count = sum(row["n"] for row in per_category)
    for row in per_category:
        row["share"] = round(100 * row["n"] / classified_count) if classified_count else 0
    reclassified = Incident.objects.filter(organization=organization, reclassified=True).count()
    all_count = Incident.objects.filter(organization=organization).count()
    overrides = TimelineEvent.objects.filter(
        organization=organization,
        kind=TimelineEvent.Kind.SEVERITY,
        data__has_keys=["proposed", "chosen"],
    ).count()
    return {
        "total_closed": total_closed,
        "classified": classified_count,
        "classified_share": round(100 * classified_count / total_closed) if total_closed else 0,
        "per_category": per_category,
        "reclassified": reclassified,
        "reclassified_share": round(100 * reclassified / all_count) if all_count else 0,
        "severity_overrides": overrides,
        "enough_for_assisted": classified_count >= 30 and len(per_category) >= 2,
    }
