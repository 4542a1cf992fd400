""" "Similar past incidents": which incidents qualify, their order, visibility and the panel."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from incidents.lifecycle import Status
from postmortems.similar import similar_incidents, words_query
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import CategoryFactory, ServiceFactory, declare
from tests.postmortems.test_kb_support import postmortem, resolved_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def responder(acme, make_member):
    return make_member(acme, Role.RESPONDER)


def similar(incident, membership) -> list[str]:
    with org_scope(incident.organization_id):
        return [
            i.title
            for i in similar_incidents(
                incident=incident, user=membership.user, membership=membership
            )
        ]


def test_past_incidents_with_a_published_post_mortem_rank_by_text_similarity(acme, acme_admin):
    user = acme_admin.user
    postmortem(
        resolved_incident(acme, user, "Payment gateway timeouts"),
        summary="The payment gateway timed out under load.",
    )
    postmortem(
        resolved_incident(acme, user, "Login page slow"),
        lessons_learned="A gateway certificate check was slow.",
    )
    postmortem(resolved_incident(acme, user, "Disk full on the log host"))
    current = declare(acme, user, title="Payment gateway timeout", description="Cards declined")

    assert similar(current, acme_admin) == ["Payment gateway timeouts", "Login page slow"]


def test_only_resolved_or_closed_incidents_with_a_published_post_mortem_qualify(acme, acme_admin):
    user = acme_admin.user
    postmortem(resolved_incident(acme, user, "Queue backlog one", status=Status.CLOSED))
    postmortem(resolved_incident(acme, user, "Queue backlog two"), status="in_review")
    resolved_incident(acme, user, "Queue backlog three")  # no post-mortem
    open_one = declare(acme, user, title="Queue backlog four")
    postmortem(open_one)  # published, but the incident is still open
    current = declare(acme, user, title="Queue backlog")

    assert similar(current, acme_admin) == ["Queue backlog one"]


def test_the_same_service_and_category_boost_and_the_incident_itself_is_left_out(acme, acme_admin):
    user = acme_admin.user
    api = ServiceFactory(organization=acme, name="API")
    capacity = CategoryFactory(organization=acme, name="Capacity")
    postmortem(resolved_incident(acme, user, "Memory leak in workers"))
    postmortem(resolved_incident(acme, user, "Memory leak in API", primary_service=api))
    postmortem(resolved_incident(acme, user, "Memory leak", primary_service=api, category=capacity))
    postmortem(resolved_incident(acme, user, "Certificate expired", primary_service=api))
    current = resolved_incident(
        acme, user, "Memory leak again", primary_service=api, category=capacity
    )
    postmortem(current)

    assert similar(current, acme_admin) == [
        "Memory leak",
        "Memory leak in API",
        "Memory leak in workers",
        "Certificate expired",  # same service, no words in common: after the text matches
    ]


def test_at_most_five(acme, acme_admin):
    for n in range(7):
        postmortem(resolved_incident(acme, acme_admin.user, f"Replication lag {n}"))
    current = declare(acme, acme_admin.user, title="Replication lag")

    assert len(similar(current, acme_admin)) == 5


def test_restricted_and_other_tenants_incidents_are_never_offered(
    acme, globex, acme_admin, globex_admin, responder
):
    postmortem(resolved_incident(globex, globex_admin.user, "Kafka consumer stuck"))
    postmortem(
        resolved_incident(
            acme, acme_admin.user, "Kafka consumer stuck (secret)", is_restricted=True
        )
    )
    postmortem(resolved_incident(acme, acme_admin.user, "Kafka consumer stuck"))
    current = declare(acme, responder.user, title="Kafka consumer stuck")

    assert similar(current, responder) == ["Kafka consumer stuck"]
    assert sorted(similar(current, acme_admin)) == [
        "Kafka consumer stuck",
        "Kafka consumer stuck (secret)",
    ]


def test_nothing_to_compare_offers_nothing(acme, acme_admin):
    postmortem(resolved_incident(acme, acme_admin.user, "Something"))
    current = declare(acme, acme_admin.user, title="a b")

    assert words_query("a b") is None
    assert similar(current, acme_admin) == []


def render_panel(incident, membership, org):
    request = RequestFactory().get("/")
    request.user, request.membership, request.org = membership.user, membership, org
    template = Template("{% load postmortems_kb %}{% similar_incidents_panel incident %}")
    return template.render(Context({"incident": incident, "request": request}))


def test_the_panel_lists_key_title_date_and_links_in_at_most_three_queries(
    acme, acme_admin, django_assert_max_num_queries
):
    past = resolved_incident(acme, acme_admin.user, "Search <index> corrupted")
    postmortem(past)
    current = declare(acme, acme_admin.user, title="Search index corrupted again")

    with org_scope(acme), django_assert_max_num_queries(3):
        html = render_panel(current, acme_admin, acme)

    assert "Similar past incidents" in html
    assert f'href="/o/acme/incidents/{past.key}/"' in html
    assert f'href="/o/acme/postmortems/{past.key}/"' in html
    assert "Search &lt;index&gt; corrupted" in html
    assert "<time" in html


def test_the_panel_says_so_when_nothing_is_similar(acme, acme_admin):
    current = declare(acme, acme_admin.user, title="Brand new failure")

    with org_scope(acme):
        html = render_panel(current, acme_admin, acme)

    assert "No resolved incident with a published post-mortem looks like this one" in html


def test_the_panel_renders_nothing_outside_an_organisation_request(acme, acme_admin):
    current = declare(acme, acme_admin.user, title="Anything")
    template = Template("{% load postmortems_kb %}{% similar_incidents_panel incident %}")

    assert template.render(Context({"incident": current})).strip() == ""
