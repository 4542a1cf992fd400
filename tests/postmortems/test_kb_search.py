"""The knowledge base's search: the weighted vector, ranking, filters, scoping and snippets."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import Incident
from postmortems import search
from postmortems.models import PostMortem
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import CategoryFactory, ServiceFactory, severity
from tests.postmortems.test_kb_support import postmortem, resolved_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def responder(acme, make_member):
    return make_member(acme, Role.RESPONDER)


def found(organization, membership, text="", **filters):
    """Titles of the matching post-mortems, in result order, as `membership` sees them."""
    with org_scope(organization):
        queryset = search.visible_postmortems(
            organization=organization, user=membership.user, membership=membership
        )
        if filters:
            filterset = search.PostMortemSearchFilterSet(
                filters, queryset=queryset, request=_Request(organization)
            )
            assert filterset.is_valid(), filterset.errors
            queryset = filterset.qs
        return [pm.title for pm in search.postmortem_search(queryset, text)]


def lexeme_weights(vector: str) -> dict[str, set[str]]:
    """`'disk':1A 'fail':3B,7` → {"disk": {"A"}, "fail": {"B", "D"}} (D is printed bare)."""
    weights = {}
    for lexeme, positions in re.findall(r"'([^']+)':([\w,]+)", str(vector)):
        weights[lexeme] = {p[-1] if p[-1] in "ABC" else "D" for p in positions.split(",")}
    return weights


class _Request:
    def __init__(self, organization):
        self.org = organization


# — the vector ———————————————————————————————————————————————————————————————————————


def test_a_published_post_mortem_gets_a_weighted_vector_and_others_get_none(acme, acme_admin):
    user = acme_admin.user
    published = postmortem(
        resolved_incident(acme, user, "Disk full on db-primary-01"),
        summary="Writes failed",
        whys=[("Why did the database stop?", "The WAL volume filled up")],
        causes=[("technology", "No log rotation")],
        lessons_learned="Page the on-call sooner",
        tags=["storage"],
    )
    draft = postmortem(
        resolved_incident(acme, user, "Disk full again"),
        status=PostMortem.Status.DRAFT,
        summary="Writes failed",
    )

    weights = lexeme_weights(published.search_vector)
    assert weights["disk"] == {"A"}  # the title
    assert weights["write"] == {"B"}  # the summary
    assert weights["wal"] == {"C"}  # a why's because
    assert weights["rotat"] == {"C"}  # a fishbone cause
    assert weights["sooner"] == {"D"}  # lessons learned
    assert weights["storag"] == {"D"}  # a tag
    assert draft.search_vector is None


def test_refreshing_after_a_change_and_after_unpublishing(acme, acme_admin):
    pm = postmortem(resolved_incident(acme, acme_admin.user, "Cache stampede"))
    assert found(acme, acme_admin, "stampede") == ["Cache stampede"]

    with scopes_disabled():
        PostMortem.objects.filter(pk=pm.pk).update(title="Thundering herd on the cache")
    search.refresh_search_vector(pm)
    assert found(acme, acme_admin, "stampede") == []
    assert found(acme, acme_admin, "thundering herd") == ["Thundering herd on the cache"]

    with scopes_disabled():
        PostMortem.objects.filter(pk=pm.pk).update(status=PostMortem.Status.REVISING)
    search.refresh_search_vector(pm)
    with scopes_disabled():
        assert PostMortem.objects.get(pk=pm.pk).search_vector is None


# — ranking ———————————————————————————————————————————————————————————————————————————


def test_a_title_hit_outranks_a_summary_hit_which_outranks_a_cause_and_then_the_rest(
    acme, acme_admin
):
    user = acme_admin.user
    postmortem(
        resolved_incident(acme, user, "Checkout slow"), lessons_learned="Watch the replica lag."
    )
    postmortem(
        resolved_incident(acme, user, "Search down"),
        whys=[("Why was search down?", "Replica lag made the index stale")],
    )
    postmortem(resolved_incident(acme, user, "Login errors"), summary="Replica lag hit logins.")
    postmortem(resolved_incident(acme, user, "Replica lag on orders"))
    postmortem(resolved_incident(acme, user, "Unrelated outage"), summary="A DNS problem.")

    assert found(acme, acme_admin, "replica lag") == [
        "Replica lag on orders",
        "Login errors",
        "Search down",
        "Checkout slow",
    ]


def test_words_match_their_stems_and_web_search_syntax_works(acme, acme_admin):
    user = acme_admin.user
    postmortem(
        resolved_incident(acme, user, "Payments failed"), summary="The card gateway timed out"
    )
    postmortem(resolved_incident(acme, user, "Payments slow"), summary="The gateway was slow")

    assert found(acme, acme_admin, "failing payment") == ["Payments failed"]
    assert found(acme, acme_admin, '"gateway timed out"') == ["Payments failed"]
    assert found(acme, acme_admin, "gateway -slow") == ["Payments failed"]
    assert sorted(found(acme, acme_admin, "failed or slow")) == ["Payments failed", "Payments slow"]


def test_no_text_lists_every_published_one_newest_first(acme, acme_admin):
    user = acme_admin.user
    older = postmortem(resolved_incident(acme, user, "First"))
    postmortem(resolved_incident(acme, user, "Second"))
    with scopes_disabled():
        PostMortem.objects.filter(pk=older.pk).update(
            published_at=timezone.now() - timedelta(days=3)
        )

    assert found(acme, acme_admin) == ["Second", "First"]


# — filters ———————————————————————————————————————————————————————————————————————————


def test_filters_narrow_the_matches(acme, acme_admin):
    user = acme_admin.user
    database = ServiceFactory(organization=acme, name="Database")
    web = ServiceFactory(organization=acme, name="Web")
    peering = CategoryFactory(organization=acme, name="Peering")
    a = resolved_incident(
        acme, user, "Timeout A", primary_service=database, severity=severity(acme, "SEV-1")
    )
    b = resolved_incident(acme, user, "Timeout B", primary_service=web, category=peering)
    c = resolved_incident(acme, user, "Timeout C", affected_services=[database])
    postmortem(a, tags=["database"])
    postmortem(b, tags=["peering"])
    postmortem(c)
    with scopes_disabled():
        Incident.objects.filter(pk=a.pk).update(reported_at=timezone.now() - timedelta(days=40))

    assert sorted(found(acme, acme_admin, "timeout")) == ["Timeout A", "Timeout B", "Timeout C"]
    assert sorted(found(acme, acme_admin, "timeout", service=database.pk)) == [
        "Timeout A",
        "Timeout C",
    ]
    assert found(acme, acme_admin, "timeout", category=peering.pk) == ["Timeout B"]
    sev1 = severity(acme, "SEV-1")
    assert found(acme, acme_admin, "timeout", severity=sev1.pk) == ["Timeout A"]
    assert found(acme, acme_admin, "timeout", tag="peering") == ["Timeout B"]
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert sorted(found(acme, acme_admin, "timeout", since=since)) == ["Timeout B", "Timeout C"]
    until = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert found(acme, acme_admin, "timeout", until=until) == ["Timeout A"]


def test_a_filter_of_another_organisation_is_refused(acme, globex, acme_admin):
    foreign = ServiceFactory(organization=globex, name="Their DB")
    with org_scope(acme):
        filterset = search.PostMortemSearchFilterSet(
            {"service": foreign.pk},
            queryset=PostMortem.objects.all(),
            request=_Request(acme),
        )
        assert not filterset.is_valid()
        assert "service" in filterset.errors


def test_an_end_date_before_the_start_date_and_an_overlong_query_are_refused(acme):
    with org_scope(acme):
        filterset = search.PostMortemSearchFilterSet(
            {"since": "2026-05-02", "until": "2026-05-01", "q": "x" * 201},
            queryset=PostMortem.objects.all(),
            request=_Request(acme),
        )
        assert not filterset.is_valid()
        assert filterset.errors["until"] == ["The end date is before the start date."]
        assert "q" in filterset.errors


# — scoping ———————————————————————————————————————————————————————————————————————————


def test_drafts_in_review_and_revising_post_mortems_never_match(acme, acme_admin):
    user = acme_admin.user
    for status in ("draft", "in_review", "revising"):
        postmortem(resolved_incident(acme, user, f"Kafka lag {status}"), status=status)
    postmortem(resolved_incident(acme, user, "Kafka lag published"))

    assert found(acme, acme_admin, "kafka") == ["Kafka lag published"]
    assert found(acme, acme_admin) == ["Kafka lag published"]


def test_another_organisations_post_mortems_never_match(acme, globex, acme_admin, globex_admin):
    postmortem(resolved_incident(globex, globex_admin.user, "Kafka lag at Globex"))
    postmortem(resolved_incident(acme, acme_admin.user, "Kafka lag at Acme"))

    assert found(acme, acme_admin, "kafka") == ["Kafka lag at Acme"]
    assert found(globex, globex_admin, "kafka") == ["Kafka lag at Globex"]


def test_restricted_incidents_post_mortems_match_only_for_who_may_see_the_incident(
    acme, acme_admin, responder, make_member
):
    granted = make_member(acme, Role.VIEWER)
    open_incident = resolved_incident(acme, acme_admin.user, "Token leak drill")
    secret = resolved_incident(
        acme, acme_admin.user, "Token leak", is_restricted=True, commander=granted.user
    )
    postmortem(open_incident)
    postmortem(secret)

    assert found(acme, responder, "token leak") == ["Token leak drill"]
    assert found(acme, responder) == ["Token leak drill"]
    assert sorted(found(acme, granted, "token leak")) == ["Token leak", "Token leak drill"]
    assert sorted(found(acme, acme_admin, "token leak")) == ["Token leak", "Token leak drill"]


# — snippets ——————————————————————————————————————————————————————————————————————————


def test_snippets_escape_the_text_and_mark_only_the_hits(acme, acme_admin):
    postmortem(
        resolved_incident(acme, acme_admin.user, "XSS <b>in</b> the status page"),
        summary=(
            'The widget rendered <script>alert("pwned")</script> from a database row '
            "when latency < 5 & errors > 3."
        ),
    )
    with org_scope(acme):
        queryset = search.visible_postmortems(
            organization=acme, user=acme_admin.user, membership=acme_admin
        )
        pm = search.postmortem_search(queryset, "database widget").get()
        snippet = str(search.highlight(pm.snippet))
        title = str(search.highlight_title(pm.title, pm.title_headline))

    # PostgreSQL's parser drops whole tags from headlines; whatever remains is escaped.
    assert "<script" not in snippet
    assert "<mark>database</mark>" in snippet
    assert "&quot;pwned&quot;" in snippet
    assert "latency &lt; 5 &amp; errors" in snippet
    assert title == "XSS &lt;b&gt;in&lt;/b&gt; the status page"  # kept whole, escaped


def test_marker_characters_in_the_text_are_not_turned_into_markup(acme, acme_admin):
    sneaky = f"{search.START}<img src=x onerror=alert(1)>{search.STOP}"
    postmortem(
        resolved_incident(acme, acme_admin.user, f"Disk pressure {sneaky}"),
        summary=f"Disk pressure {sneaky} on the nodes.",
    )
    with org_scope(acme):
        queryset = search.visible_postmortems(
            organization=acme, user=acme_admin.user, membership=acme_admin
        )
        pm = search.postmortem_search(queryset, "disk").get()
        snippet = str(search.highlight(pm.snippet))
        title = str(search.highlight(pm.title_headline))

    assert snippet.count("<mark>") == 1
    assert "<mark>Disk</mark>" in snippet
    assert "&lt;img src=x onerror=alert(1)&gt;" in snippet
    assert title.count("<mark>") == 1
    assert str(search.highlight(f"a {search.STOP}{search.START}b")) == "a b"
    assert str(search.highlight(None)) == ""
