"""The knowledge-base pages: search and tags, as members of each role and of other tenants."""

import pytest

from tenancy.roles import Role
from tests.incidents.factories import ServiceFactory
from tests.postmortems.test_kb_support import postmortem, resolved_incident

pytestmark = pytest.mark.django_db

SEARCH = "/o/acme/postmortems/search/"
TAGS = "/o/acme/postmortems/tags/"


@pytest.fixture
def viewer(acme, make_member):
    return make_member(acme, Role.VIEWER)


@pytest.fixture
def library(acme, acme_admin):
    """Three published post-mortems (one restricted), one draft."""
    user = acme_admin.user
    postmortem(
        resolved_incident(acme, user, "Redis failover stalled checkout"),
        summary="The <em>sentinel</em> quorum was lost & checkout stalled.",
        tags=["redis", "failover"],
    )
    postmortem(
        resolved_incident(acme, user, "Slow search"),
        lessons_learned="Redis memory limits need alerts.",
        tags=["redis"],
    )
    postmortem(
        resolved_incident(acme, user, "Redis credentials leaked", is_restricted=True),
        tags=["security"],
    )
    postmortem(resolved_incident(acme, user, "Redis draft"), status="draft", tags=["drafts"])


def test_a_viewer_searches_and_sees_ranked_highlighted_escaped_results(library, viewer, login):
    client = login(viewer.user)

    response = client.get(SEARCH, {"q": "redis"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("<mark>Redis</mark> failover stalled checkout") < html.index("Slow search")
    assert "/ACME-3/" not in html  # restricted: the viewer has no grant
    assert "/ACME-4/" not in html  # a draft
    assert "<em>sentinel</em>" not in html
    assert "&amp; checkout" in html
    assert "2 published post-mortems match" in html
    assert "/o/acme/postmortems/ACME-1/export.pdf" in html
    assert 'href="/o/acme/postmortems/ACME-1/"' in html  # the document page


def test_an_admin_also_finds_the_restricted_one(library, acme_admin, login):
    response = login(acme_admin.user).get(SEARCH, {"q": "credentials"})

    assert "Redis <mark>credentials</mark> leaked" in response.content.decode()


def test_the_search_page_reads_a_page_in_a_bounded_number_of_queries(
    library, viewer, login, django_assert_max_num_queries
):
    client = login(viewer.user)
    with django_assert_max_num_queries(16):
        response = client.get(SEARCH, {"q": "redis", "tag": "redis"})

    assert response.status_code == 200


def test_results_are_paginated(acme, acme_admin, login):
    for n in range(23):
        postmortem(resolved_incident(acme, acme_admin.user, f"Cron overlap {n}"))
    client = login(acme_admin.user)

    first = client.get(SEARCH, {"q": "cron"}).content.decode()
    second = client.get(SEARCH, {"q": "cron", "page": 2}).content.decode()

    assert "Page 1 of 2 · 23 in all" in first
    assert first.count('class="kb-result card"') == 20
    assert second.count('class="kb-result card"') == 3
    assert "?q=cron&amp;page=2" in first


def test_filtering_by_service_and_tag_narrows_the_page(acme, acme_admin, login):
    db = ServiceFactory(organization=acme, name="Orders DB")
    postmortem(resolved_incident(acme, acme_admin.user, "Deadlock A", primary_service=db))
    postmortem(resolved_incident(acme, acme_admin.user, "Deadlock B"), tags=["locks"])
    client = login(acme_admin.user)

    by_service = client.get(SEARCH, {"q": "deadlock", "service": db.pk}).content.decode()
    by_tag = client.get(SEARCH, {"tag": "locks"}).content.decode()

    assert "ACME-1" in by_service
    assert "/ACME-2/" not in by_service
    assert "ACME-2" in by_tag
    assert "/ACME-1/" not in by_tag


def test_empty_states_explain_what_would_appear(acme, acme_admin, login):
    client = login(acme_admin.user)

    nothing_yet = client.get(SEARCH).content.decode()
    postmortem(resolved_incident(acme, acme_admin.user, "Expired certificate"))
    no_match = client.get(SEARCH, {"q": "kubernetes"}).content.decode()

    assert "No published post-mortems yet" in nothing_yet
    assert "No published post-mortem matches “kubernetes”" in no_match
    assert "clear the search" in no_match


def test_wrong_filters_are_shown_as_errors_and_match_nothing(library, acme_admin, login):
    client = login(acme_admin.user)

    response = client.get(
        SEARCH, {"q": "redis", "since": "2026-05-02", "until": "2026-05-01", "service": "999999"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "The end date is before the start date." in html
    assert "Select a valid choice" in html
    assert 'class="kb-result card"' not in html


def test_another_tenants_member_gets_404(library, globex_admin, login):
    client = login(globex_admin.user)

    assert client.get(SEARCH, {"q": "redis"}).status_code == 404
    assert client.get(TAGS).status_code == 404


def test_the_tags_page_counts_published_post_mortems_the_reader_may_see(
    library, viewer, acme_admin, login
):
    as_viewer = login(viewer.user).get(TAGS).content.decode()

    assert response_row(as_viewer, "redis") == "2"
    assert response_row(as_viewer, "failover") == "1"
    assert response_row(as_viewer, "security") == "0"  # restricted, not granted
    assert response_row(as_viewer, "drafts") == "0"
    assert f'href="{SEARCH}?tag=redis"' in as_viewer
    as_admin = login(acme_admin.user).get(TAGS).content.decode()
    assert response_row(as_admin, "security") == "1"


def test_the_tags_page_without_tags_says_where_they_come_from(acme, acme_admin, login):
    html = login(acme_admin.user).get(TAGS).content.decode()

    assert "No tags yet" in html


def response_row(html: str, tag: str) -> str:
    """The count cell of `tag`'s row in the tags table."""
    import re

    match = re.search(rf">{re.escape(tag)}</(?:a|span)></td>\s*<td class=\"num\">(\d+)</td>", html)
    assert match, f"no row for {tag}"
    return match.group(1)
