"""The knowledge base: full-text search over published post-mortems.

The vector (`PostMortem.search_vector`, GIN index `pm_search_gin`) is weighted:

- A: the title;
- B: the summary;
- C: the causes — every 5 Whys step (why and because), every fishbone cause, and the
  contributing factors;
- D: the rest — customer and business impact, detection, response, recovery, what went well,
  lessons learned, and the tags' names.

Text search configuration: `english` on both sides (the stored vector and the query), so
"failing", "failed" and "fails" all match "fail", and stop words ("the", "was") neither match
nor pad the rank. Identifiers survive it: the parser keeps `db-primary-01`, `v2.3.1` or an
e-mail address as tokens (and their parts), and only plain English words are stemmed. A
second `simple` vector would only help exact-form searches of English words, at twice the
index size, so there is none.

Only published post-mortems carry a vector; every other status stores NULL, so a draft can
never match even if a query forgot the status filter.
"""

import re

import django_filters
from django import forms
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db.models import (
    Case,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat

from incidents.selectors import incident_list
from postmortems.models import FishboneCause, PostMortem, Tag, WhyStep
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.filters import OrgFilterSet
from tenancy.models import Membership, Organization, User

CONFIG = "english"
MAX_QUERY_CHARS = 200

# ts_headline wraps hits in these; the text is escaped, then they become <mark> (see
# `highlight`). Private-use code points: nobody types them, and they are stripped if they do.
START, STOP = "\ue000", "\ue001"
_HIT = re.compile(f"{START}([^{START}{STOP}]*){STOP}")

# The sections a snippet is cut from, in reading order.
SNIPPET_FIELDS = (
    "summary",
    "customer_impact",
    "business_impact",
    "detection",
    "response",
    "recovery",
    "contributing_factors",
    "lessons_learned",
    "what_went_well",
)


def _text_of(queryset: QuerySet, expression) -> Subquery:
    """One post-mortem's related rows' text, space-joined ('' when there are none)."""
    joined = (
        queryset.filter(postmortem=OuterRef("pk"))
        .order_by()
        .values("postmortem")
        .annotate(text=StringAgg(expression, delimiter=" ", output_field=TextField()))
        .values("text")
    )
    return Coalesce(Subquery(joined), Value(""), output_field=TextField())


def _vector():
    # The base managers: the vector is about one row whatever the caller's scope; the rows
    # read are that post-mortem's own children.
    whys = _text_of(
        WhyStep._base_manager, Concat("why", Value(" "), "because", output_field=TextField())
    )
    fishbone = _text_of(FishboneCause._base_manager, F("text"))
    tag_names = (
        Tag._base_manager.filter(postmortems=OuterRef("pk"))
        .order_by()
        .values("organization")
        .annotate(text=StringAgg("name", delimiter=" ", output_field=TextField()))
        .values("text")
    )
    return (
        SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("summary", weight="B", config=CONFIG)
        + SearchVector(whys, fishbone, "contributing_factors", weight="C", config=CONFIG)
        + SearchVector(
            "customer_impact",
            "business_impact",
            "detection",
            "response",
            "recovery",
            "what_went_well",
            "lessons_learned",
            Coalesce(Subquery(tag_names), Value(""), output_field=TextField()),
            weight="D",
            config=CONFIG,
        )
    )


def _refresh(queryset: QuerySet) -> int:
    return queryset.update(
        search_vector=Case(
            When(status=PostMortem.Status.PUBLISHED, then=_vector()),
            default=None,
        )
    )


def refresh_search_vector(postmortem) -> None:
    """Recompute `postmortem.search_vector` in one UPDATE: weighted title, summary, causes,
    the rest when it is published; NULL otherwise. Call it after publishing, revising, or any
    change to a published one's sections, whys, causes or tags."""
    _refresh(PostMortem._base_manager.filter(pk=postmortem.pk))


def refresh_search_vectors(organization: Organization | int) -> int:
    """Every post-mortem of one organisation (after a bulk import or a config change)."""
    org_id = getattr(organization, "pk", organization)
    return _refresh(PostMortem._base_manager.filter(organization_id=org_id))


# — reading ————————————————————————————————————————————————————————————————————————————


def visible_postmortems(
    *, organization: Organization, user: User, membership: Membership | None
) -> QuerySet[PostMortem]:
    """Published post-mortems of `organization` whose incident `user` may see (restricted
    incidents' post-mortems follow the incident: incidents.selectors.incident_list)."""
    incidents = incident_list(organization=organization, user=user, membership=membership)
    return PostMortem.objects.filter(
        organization=organization,
        status=PostMortem.Status.PUBLISHED,
        incident__in=incidents.values("pk"),
    )


def search_query(text: str) -> SearchQuery:
    """The reader's words as web search syntax: `db timeout`, `"connection pool"`, `-dns`,
    `redis or memcached`."""
    return SearchQuery(text, config=CONFIG, search_type="websearch")


def _unmarked(expression) -> Func:
    """The text without our highlight markers, so only ts_headline's own become <mark>."""
    return Func(
        expression, Value(START + STOP), Value(""), function="translate", output_field=TextField()
    )


def postmortem_search(queryset: QuerySet[PostMortem], text: str) -> QuerySet[PostMortem]:
    """Narrow to matches of `text`, best first (SearchRank over the weighted vector), with
    `rank`, `title_headline` and `snippet` (ts_headline; pass them through `highlight`)."""
    text = (text or "").strip()[:MAX_QUERY_CHARS]
    if not text:
        return queryset.annotate(rank=Value(0.0)).order_by("-published_at", "-pk")
    query = search_query(text)
    options = {"start_sel": START, "stop_sel": STOP, "config": CONFIG}
    body = _unmarked(
        Concat(
            *[part for name in SNIPPET_FIELDS for part in (F(name), Value(" \n "))],
            output_field=TextField(),
        )
    )
    return (
        # Match with @@ (uses the GIN index); rank alone would keep non-matching rows.
        queryset.filter(search_vector=query)
        .annotate(
            rank=SearchRank(F("search_vector"), query),
            title_headline=SearchHeadline(
                _unmarked(F("title")), query, highlight_all=True, **options
            ),
            snippet=SearchHeadline(
                body,
                query,
                max_words=35,
                min_words=15,
                max_fragments=2,
                fragment_delimiter=" … ",
                **options,
            ),
        )
        .order_by("-rank", "-published_at", "-pk")
    )


def highlight(text: str | None, *, reveal: bool = False) -> str:
    """A ts_headline result as safe HTML: everything escaped, the hits in <mark>, personal
    data masked (compliance.masking) unless `reveal`. Where masking changes the text, the
    hits are not marked (a hit may have been inside what was masked)."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    from compliance.masking import mask_text

    text = text or ""
    plain = text.replace(START, "").replace(STOP, "")
    masked = mask_text(plain, reveal=reveal)
    if masked != plain:
        return escape(masked)
    escaped = escape(text)
    marked = _HIT.sub(r"<mark>\1</mark>", escaped)
    # A marker the document itself contained (or an unpaired one) is dropped, not trusted.
    # Safe: every character of the text was escaped; only our own <mark> tags were added.
    return mark_safe(marked.replace(START, "").replace(STOP, ""))  # noqa: S308


def highlight_title(title: str, headline: str | None, *, reveal: bool = False) -> str:
    """The title with its hits marked — unless the parser dropped something from it (text
    that looks like an HTML tag): then the plain, escaped title, since a title must read as
    it was written. Personal data masked unless `reveal`."""
    from django.utils.html import escape

    from compliance.masking import mask_text

    if headline is None or headline.replace(START, "").replace(STOP, "") != title:
        return escape(mask_text(title, reveal=reveal))
    return highlight(headline, reveal=reveal)


# — filters ————————————————————————————————————————————————————————————————————————————


def _services(request):
    return Service.objects.filter(organization=request.org)


def _categories(request):
    return Category.objects.filter(organization=request.org)


def _severities(request):
    return SeverityLevel.objects.filter(organization=request.org)


def _tags(request):
    return Tag.objects.filter(organization=request.org)


class KnowledgeBaseForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


class PostMortemSearchFilterSet(OrgFilterSet):
    """The knowledge base's filters. The text (`q`) is applied by `postmortem_search`, after
    these, so that ranking and headlines run on the narrowed set."""

    q = django_filters.CharFilter(
        label="Search",
        method="filter_nothing",
        max_length=MAX_QUERY_CHARS,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": 'e.g. connection pool, "disk full", dns -staging',
                "autocomplete": "off",
            }
        ),
    )
    service = django_filters.ModelChoiceFilter(
        queryset=_services, label="Service", method="filter_service", empty_label="Any"
    )
    category = django_filters.ModelChoiceFilter(
        queryset=_categories, field_name="incident__category", label="Category", empty_label="Any"
    )
    severity = django_filters.ModelChoiceFilter(
        queryset=_severities,
        field_name="incident__severity",
        label="Severity",
        empty_label="Any",
    )
    since = django_filters.DateFilter(
        field_name="incident__reported_at",
        lookup_expr="date__gte",
        label="Incident from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="incident__reported_at",
        lookup_expr="date__lte",
        label="Incident until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    tag = django_filters.ModelChoiceFilter(
        queryset=_tags,
        to_field_name="slug",
        field_name="tags",
        label="Tag",
        empty_label="Any",
    )

    class Meta:
        model = PostMortem
        fields = ["q", "service", "category", "severity", "since", "until", "tag"]
        form = KnowledgeBaseForm

    def filter_nothing(self, queryset, name, value):
        return queryset

    def filter_service(self, queryset, name, value):
        """The incident's primary service or one of its affected services."""
        from incidents.models import Incident

        affected = Incident.objects.filter(affected_services=value).values("pk")
        return queryset.filter(Q(incident__primary_service=value) | Q(incident__in=affected))
