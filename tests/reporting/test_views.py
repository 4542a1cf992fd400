"""The dashboard page: who may open it, what it counts for whom, drill-downs that count the
same as the bars, and a query count that does not grow with the incidents."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.models import Incident
from tenancy.roles import Role
from tests.incidents.factories import ServiceFactory
from tests.reporting.conftest import berlin, make_incident

pytestmark = pytest.mark.django_db

MARCH_QUERY = {"period": "custom", "since": "2026-03-01", "until": "2026-03-31"}


def url(org="acme"):
    return reverse("reporting:dashboard", kwargs={"org_slug": org})


def volume(response) -> int:
    return response.context["report"].volume


def links(svg: str) -> list[tuple[str, int, str]]:
    """(label, count, href) of each linked bar of a chart."""
    return [
        (html.unescape(label), int(count), html.unescape(href))
        for href, label, count in re.findall(r'<a href="([^"]+)" aria-label="(.+?): (\d+)">', svg)
    ]


def list_count(client, href: str) -> int:
    response = client.get(href)
    assert response.status_code == 200
    return response.context["page"].paginator.count


def test_manager_sees_the_kpis_with_definitions(march, manager, login):
    response = login(manager).get(url(), MARCH_QUERY)

    assert response.status_code == 200
    assert volume(response) == 4
    body = response.content.decode()
    assert "How is this computed" in body
    assert "Mean time to resolve (MTTR)" in body
    assert "3 excluded incidents</a>" in body
    assert "<svg" in body


def test_default_period_is_the_last_30_days(acme, manager, login):
    response = login(manager).get(url())

    assert response.status_code == 200
    assert response.context["report"].period.days == 30
    assert "No incidents were reported in this period" in response.content.decode()


def test_a_preset_period_ends_today_in_the_organisations_time_zone(acme, manager, login):
    import datetime

    from django.utils import timezone

    today = timezone.now().astimezone(acme.tzinfo).date()
    response = login(manager).get(url(), {"period": "7", "since": "2020-01-01"})

    period = response.context["report"].period
    assert (period.first, period.last) == (today - datetime.timedelta(days=6), today)
    assert f'value="{period.first.isoformat()}"' in response.content.decode()


def test_include_excluded_toggle(march, manager, login):
    client = login(manager)

    assert volume(client.get(url(), MARCH_QUERY)) == 4
    assert volume(client.get(url(), {**MARCH_QUERY, "include_excluded": "on"})) == 7


@pytest.mark.parametrize("include_excluded", [False, True])
def test_every_bar_counts_the_same_as_the_incident_list_it_links_to(
    march, manager, login, include_excluded
):
    client = login(manager)
    query = {**MARCH_QUERY, **({"include_excluded": "on"} if include_excluded else {})}
    response = client.get(url(), query)
    context = response.context

    bars = links(str(context["severity_chart"])) + links(str(context["service_chart"]))
    assert {label for label, _, _ in bars} >= {"SEV-3", "Payments API", "Checkout <web>"}
    for label, count, href in bars:
        assert list_count(client, href) == count, label
    for bar, href in context["category_bars"] + context["team_bars"]:
        if href:
            assert list_count(client, href) == bar.count, bar.label
    assert list_count(client, context["volume_href"]) == volume(response)
    if not include_excluded:
        assert list_count(client, context["excluded_href"]) == context["report"].excluded == 3


def test_a_filtered_dashboard_links_only_what_the_list_can_show(march, manager, login):
    client = login(manager)
    response = client.get(url(), {**MARCH_QUERY, "service": march.s2.pk})

    bars = links(str(response.context["service_chart"]))
    # B is on both services; the list filters one service, so only Checkout is linked.
    assert [(label, count) for label, count, _ in bars] == [("Checkout <web>", 2)]
    assert list_count(client, bars[0][2]) == 2
    assert "Payments API" in str(response.context["service_chart"])


def test_labels_are_escaped_in_the_chart(march, manager, login):
    response = login(manager).get(url(), MARCH_QUERY)

    svg = str(response.context["service_chart"])
    assert "Checkout &lt;web&gt;" in svg
    assert "Checkout <web>" not in svg


def test_another_organisations_incidents_never_count(march, globex, globex_admin, login):
    """Globex's X is in March; globex sees only X, never acme's."""
    response = login(globex_admin.user).get(url("globex"), MARCH_QUERY)

    assert response.status_code == 200
    assert volume(response) == 1


def test_restricted_incident_counts_only_for_those_who_may_see_it(
    march, manager, admin, login, client
):
    with scopes_disabled():
        Incident.objects.filter(pk=march.h.pk).update(is_restricted=True)

    assert volume(login(manager).get(url(), MARCH_QUERY)) == 3
    client.logout()
    assert volume(login(admin).get(url(), MARCH_QUERY)) == 4


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_dashboards_get_404(acme, make_member, login, role):
    member = make_member(acme, role)

    assert login(member.user).get(url()).status_code == 404


def test_compliance_may_read_the_dashboard(acme, make_member, login):
    member = make_member(acme, Role.COMPLIANCE)

    assert login(member.user).get(url()).status_code == 200


def test_another_organisations_admin_gets_404(acme, stranger, login):
    assert login(stranger).get(url()).status_code == 404


def test_an_invalid_custom_period_says_why(acme, manager, login):
    response = login(manager).get(
        url(), {"period": "custom", "since": "2026-03-31", "until": "2026-03-01"}
    )

    assert response.status_code == 200
    assert response.context["report"] is None
    assert "must end on or after" in response.content.decode()


def test_nav_shows_reports_to_managers_only(acme, manager, responder, login, client):
    home = reverse("tenancy:org_home", kwargs={"org_slug": "acme"})

    assert f'href="{url()}"' in login(manager).get(home).content.decode()
    client.logout()
    assert f'href="{url()}"' not in login(responder).get(home).content.decode()


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(), MARCH_QUERY)
    assert response.status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_the_incidents(march, acme, admin, manager, login):
    client = login(manager)
    _queries(client)  # the first request of a session also stores the organisation in it
    before = _queries(client)
    with scopes_disabled():
        services = [ServiceFactory(organization=acme) for _ in range(3)]
    for day in range(3, 13):
        make_incident(
            acme,
            admin,
            reported=berlin(day, 10),
            acknowledged=berlin(day, 10, 7),
            resolved=berlin(day, 12),
            status="resolved",
            primary_service=services[day % 3],
            affected=[services[day % 3]],
        )

    assert volume(client.get(url(), MARCH_QUERY)) == 14
    assert _queries(client) == before


def test_the_incident_lists_counted_filter_splits_counted_and_excluded(march, manager, login):
    client = login(manager)
    incidents = reverse("incidents:incident_list", kwargs={"org_slug": "acme"})
    march_only = {"since": "2026-03-01", "until": "2026-03-31"}

    assert list_count(client, f"{incidents}?counted=true&since=2026-03-01&until=2026-03-31") == 4
    excluded = client.get(incidents, {**march_only, "counted": "false"})
    assert {i.pk for i in excluded.context["page"].object_list} == {
        march.e.pk,
        march.f.pk,
        march.g.pk,
    }
