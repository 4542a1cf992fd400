"""The responders' team view: a reader sees only the teams they may choose, the team's KPIs
over the visible incidents (numbers worked out by hand), its open incidents by severity and
its action items overdue or due within 7 days."""

import datetime
import html
import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from postmortems.models import ActionItem
from tests.factories import TeamFactory
from tests.reporting.conftest import berlin, make_incident, postmortem

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 31)


def url(org="acme"):
    return reverse("reporting:team", kwargs={"org_slug": org})


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """The team view's periods end on 31 March 2026 (Berlin)."""
    monkeypatch.setattr("reporting.team_views.today_in", lambda tz: TODAY)


def item(pm, team, due, status=ActionItem.Status.OPEN, owner=None, title="Add an alert"):
    with scopes_disabled():
        return ActionItem.objects.create(
            organization_id=pm.organization_id,
            postmortem=pm,
            title=title,
            team=team,
            owner=owner,
            due_date=due,
            status=status,
        )


@pytest.fixture
def teams(acme, globex, admin, globex_admin, responder, other_responder):
    """Payments (Rita) and Search (Oscar) in acme; a globex team also called Payments.

    Payments' incidents: P1 (owned, reported 00:30 Berlin on 25 March — still the 24th in UTC —
    acknowledged after 10 min, open, SEV-2), P2 (owned by Search, Payments involved, 28 March,
    acknowledged after 20 min, resolved, SEV-3), P3 (owned, 23:30 Berlin on 24 March: outside
    the last 7 days, inside the last 30; open, SEV-3), P4 (owned, dismissed: excluded), P5
    (owned, restricted, open SEV-1, acknowledged after 5 min: only for readers who may open
    it). S1 is Search's alone; X is globex's.
    """
    with scopes_disabled():
        payments = TeamFactory(organization=acme, name="Payments", members=[responder])
        search = TeamFactory(organization=acme, name="Search", members=[other_responder])
        elsewhere = TeamFactory(organization=globex, name="Payments")
    p1 = make_incident(
        acme,
        admin,
        reported=berlin(25, 0, 30),
        acknowledged=berlin(25, 0, 40),
        status=Status.INVESTIGATING,
        sev="SEV-2",
        owning_team=payments,
    )
    p2 = make_incident(
        acme,
        admin,
        reported=berlin(28, 10),
        acknowledged=berlin(28, 10, 20),
        resolved=berlin(28, 12),
        status=Status.RESOLVED,
        owning_team=search,
    )
    with scopes_disabled():
        p2.involved_teams.add(payments)
    p3 = make_incident(
        acme, admin, reported=berlin(24, 23, 30), status=Status.REPORTED, owning_team=payments
    )
    p4 = make_incident(
        acme, admin, reported=berlin(26, 10), status=Status.DISMISSED, owning_team=payments
    )
    p5 = make_incident(
        acme,
        admin,
        reported=berlin(27, 10),
        acknowledged=berlin(27, 10, 5),
        status=Status.INVESTIGATING,
        sev="SEV-1",
        owning_team=payments,
        is_restricted=True,
        title="Secret",
    )
    s1 = make_incident(acme, admin, reported=berlin(27, 11), sev="SEV-1", owning_team=search)
    x = make_incident(globex, globex_admin.user, reported=berlin(27, 11), owning_team=elsewhere)
    pm2 = postmortem(p2)
    pm5 = postmortem(p5)
    pmx = postmortem(x)
    overdue = item(pm2, payments, datetime.date(2026, 3, 20), owner=responder, title="Overdue")
    due_soon = item(pm2, payments, datetime.date(2026, 4, 7), status="in_progress", title="Soon")
    item(pm2, payments, datetime.date(2026, 4, 8), title="Later")
    item(pm2, payments, datetime.date(2026, 3, 29), status="done", title="Done")
    item(pm2, search, datetime.date(2026, 3, 30), title="Search's")
    hidden = item(pm5, payments, datetime.date(2026, 3, 30), title="Restricted one")
    item(pmx, elsewhere, datetime.date(2026, 3, 30), title="Globex's")
    return SimpleNamespace(
        payments=payments,
        search=search,
        elsewhere=elsewhere,
        p1=p1,
        p2=p2,
        p3=p3,
        p4=p4,
        p5=p5,
        s1=s1,
        overdue=overdue,
        due_soon=due_soon,
        hidden=hidden,
    )


def rows(response) -> dict[str, tuple[str, str]]:
    return {row.name: (row.value, row.arithmetic) for row in response.context["rows"]}


def open_counts(response) -> list[tuple[str, int]]:
    return [(bar.label, bar.count) for bar, _ in response.context["open_bars"]]


def list_count(client, href: str) -> int:
    response = client.get(href)
    assert response.status_code == 200
    return response.context["page"].paginator.count


def test_a_responder_sees_their_teams_figures_for_the_last_7_days(teams, responder, login):
    response = login(responder).get(url(), {"period": "7"})

    assert response.status_code == 200
    assert response.context["team"] == teams.payments
    report = response.context["report"]
    assert (report.period.first, report.period.last) == (datetime.date(2026, 3, 25), TODAY)
    # P1 (00:30 Berlin on the 25th, the first day) and P2 (involved); not P3 (the 24th), not
    # P4 (dismissed), not P5 (restricted), not S1 (Search's).
    assert report.volume == 2
    assert rows(response)["Mean time to acknowledge (MTTA)"] == (
        "15 min",
        "30 min ÷ 2 incidents; median 15 min",
    )
    assert report.excluded == 1  # P4


def test_the_30_day_period_adds_the_incident_of_the_day_before(teams, responder, login):
    response = login(responder).get(url(), {"period": "30"})

    assert response.context["report"].volume == 3  # P1, P2, P3


def test_open_incidents_by_severity_and_their_drill_down(teams, responder, login):
    client = login(responder)
    response = client.get(url())

    assert open_counts(response) == [("SEV-2", 1), ("SEV-3", 1)]  # P1, P3
    for bar, href in response.context["open_bars"]:
        assert list_count(client, href) == bar.count
    assert list_count(client, response.context["open_href"]) == 2
    assert list_count(client, response.context["rows"][0].href) == 3  # 30 days: P1 P2 P3


def test_an_admin_also_sees_the_restricted_incident(teams, admin, login):
    response = login(admin).get(url(), {"team": teams.payments.pk, "period": "7"})

    assert response.context["report"].volume == 3  # P1, P2, P5
    assert open_counts(response) == [("SEV-1", 1), ("SEV-2", 1), ("SEV-3", 1)]
    assert teams.hidden in response.context["action_items"]


def test_action_items_overdue_or_due_within_7_days(teams, responder, login):
    response = login(responder).get(url())

    assert response.context["action_items"] == [teams.overdue, teams.due_soon]
    body = response.content.decode()
    assert "overdue</span>" in body
    assert teams.p2.key in body
    assert "Rita" in body
    assert "Restricted one" not in body
    assert "Secret" not in body
    assert "Globex" not in body


def test_another_team_is_404_for_a_responder(teams, responder, login):
    client = login(responder)

    assert client.get(url(), {"team": teams.search.pk}).status_code == 404
    assert client.get(url(), {"team": teams.elsewhere.pk}).status_code == 404
    assert client.get(url(), {"team": "nonsense"}).status_code == 404


def test_a_manager_may_choose_any_team(teams, manager, login):
    response = login(manager).get(url(), {"team": teams.search.pk, "period": "7"})

    assert response.status_code == 200
    assert [t.name for t in response.context["choices"]] == ["Payments", "Search"]
    # S1 (open, SEV-1) and P2 (resolved), both owned by Search.
    assert response.context["report"].volume == 2
    assert open_counts(response) == [("SEV-1", 1)]
    assert 'id="id_team"' in response.content.decode()


def test_a_reader_in_no_team_gets_a_clear_empty_state(teams, viewer, login):
    response = login(viewer).get(url())

    assert response.status_code == 200
    assert response.context["report"] is None
    assert "You are not in any team" in response.content.decode()


def test_a_bad_period_is_a_form_error_not_a_500(teams, responder, login):
    response = login(responder).get(url(), {"period": "365"})

    assert response.status_code == 200
    assert response.context["report"] is None
    assert 'class="error" role="alert"' in response.content.decode()


def test_another_organisations_member_gets_404(teams, stranger, login):
    assert login(stranger).get(url()).status_code == 404


def test_globex_sees_only_its_own_team(teams, globex_admin, login):
    response = login(globex_admin.user).get(url("globex"), {"period": "7"})

    assert [t.name for t in response.context["choices"]] == ["Payments"]
    assert response.context["report"].volume == 1


def test_the_nav_leads_a_responder_to_the_team_view(teams, responder, login):
    home = reverse("tenancy:org_home", kwargs={"org_slug": "acme"})

    body = login(responder).get(home).content.decode()

    links = [html.unescape(h) for h in re.findall(r'<a href="([^"]+)"[^>]*>Reports</a>', body)]
    assert links == [url()]


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(), {"period": "7"})
    assert response.status_code == 200
    return len(queries)


def test_the_query_count_does_not_grow_with_the_data(
    teams, acme, admin, responder, login, django_assert_max_num_queries
):
    client = login(responder)
    _queries(client)  # the first request of a session also stores the organisation in it
    before = _queries(client)
    for day in range(25, 31):
        incident = make_incident(acme, admin, reported=berlin(day, 9), owning_team=teams.payments)
        item(postmortem(incident), teams.payments, datetime.date(2026, 4, 1), owner=responder)

    with django_assert_max_num_queries(before):
        response = client.get(url(), {"period": "7"})

    assert response.context["report"].volume == 8
    assert len(response.context["action_items"]) == 8


def read_csv(response) -> list[list[str]]:
    import csv
    import io

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_each_table_as_csv_has_the_pages_numbers(teams, responder, login):
    client = login(responder)
    page = client.get(url(), {"period": "7"})
    assert "period=7&amp;format=csv&amp;table=actions" in page.content.decode()

    kpi_rows = read_csv(client.get(url(), {"period": "7", "format": "csv", "table": "kpis"}))
    open_rows = read_csv(client.get(url(), {"format": "csv", "table": "open"}))
    action_rows = read_csv(client.get(url(), {"format": "csv", "table": "actions"}))

    assert kpi_rows[1:] == [
        [r.name, r.value, r.arithmetic, r.definition.text] for r in page.context["rows"]
    ]
    assert kpi_rows[1][:2] == ["Incident volume", "2"]
    assert open_rows == [["Severity", "Open incidents"], ["SEV-2", "1"], ["SEV-3", "1"]]
    assert action_rows == [
        ["Due", "Overdue", "Action item", "Status", "Owner", "Incident"],
        ["2026-03-20", "yes", "Overdue", "Open", "Rita", teams.p2.key],
        ["2026-04-07", "no", "Soon", "In progress", "", teams.p2.key],
    ]


def test_an_unknown_table_or_another_team_as_csv_is_404(teams, responder, login):
    client = login(responder)

    assert client.get(url(), {"format": "csv", "table": "x"}).status_code == 404
    query = {"format": "csv", "table": "kpis", "team": teams.search.pk}
    assert client.get(url(), query).status_code == 404


def test_a_manager_sees_their_own_team_first(teams, manager, login):
    with scopes_disabled():
        teams.search.members.add(manager)

    response = login(manager).get(url())

    assert response.context["team"] == teams.search


def test_the_documentation_states_the_team_views_definitions():
    from pathlib import Path

    from reporting import definitions

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reporting.md").read_text()
    assert definitions.TEAM_OPEN.text in doc
    assert definitions.TEAM_ACTIONS.text in doc
