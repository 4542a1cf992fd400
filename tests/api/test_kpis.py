"""GET /kpis/: the dashboard's KPIs (reporting.kpis.report over the reader's visible incidents)
with value, numerator, denominator and definition — checked against the hand-worked March 2026
of tests/reporting (tests/reporting/test_kpis.py); roles without view_dashboards get 404 as on
the dashboard; restricted incidents count only for readers who may open them; bad input is a
400 naming the parameter."""

import pytest
from django_scopes import scopes_disabled

from incidents.models import Incident
from reporting import definitions
from tenancy.roles import Role

pytestmark = pytest.mark.django_db

MARCH = {"since": "2026-03-01", "until": "2026-03-31"}
HOUR = 3600.0


@pytest.fixture
def client_for(make_token, api, acme, make_member):
    def make(role, scope="read"):
        return api(make_token(make_member(acme, role), scope=scope))

    return make


def kpi(body, name) -> dict:
    return next(row for row in body["kpis"] if row["name"] == name)


def test_a_manager_reads_every_kpi_with_its_arithmetic_and_definition(march, client_for):
    response = client_for(Role.MANAGER).get("/api/v1/kpis/", MARCH)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"]["since"] == "2026-03-01"
    assert body["period"]["time_zone"] == "Europe/Berlin"
    volume = kpi(body, "Incident volume")
    assert (volume["value"], volume["unit"]) == (4, "count")
    assert body["excluded"] == 3
    mtta = kpi(body, "Mean time to acknowledge (MTTA)")
    assert (mtta["numerator"], mtta["denominator"], mtta["value"]) == (50 * 60, 4, 12.5 * 60)
    assert mtta["median"] == 12.5 * 60
    mttr = kpi(body, "Mean time to resolve (MTTR)")
    assert (mttr["numerator"], mttr["denominator"]) == (8 * HOUR, 3)
    assert mttr["definition"] == definitions.BY_KEY["mttr"].text
    reopen = kpi(body, "Reopen rate")
    assert (reopen["numerator"], reopen["denominator"], reopen["value"]) == (1, 4, 0.25)
    alerts = kpi(body, "Alert-created incidents")
    assert (alerts["numerator"], alerts["denominator"]) == (2, 4)
    assert {row["name"] for row in body["kpis"]} >= {
        "SLA compliance: Acknowledge",
        "Status-update cadence adherence",
        "Action items done on time",
    }
    assert all(row["definition"] for row in body["kpis"])
    assert {(bar["id"], bar["count"]) for bar in body["by_service"]} == {
        (march.s1.pk, 2),
        (march.s2.pk, 2),
    }


def test_include_excluded_and_filters_narrow_like_the_dashboard(march, client_for):
    client = client_for(Role.COMPLIANCE)

    everything = client.get("/api/v1/kpis/", {**MARCH, "include_excluded": "true"}).json()
    by_team = client.get("/api/v1/kpis/", {**MARCH, "team": march.t1.pk}).json()

    assert kpi(everything, "Incident volume")["value"] == 7
    assert kpi(everything, "Mean time to acknowledge (MTTA)")["numerator"] == 112 * 60
    assert everything["excluded"] == 0
    assert kpi(by_team, "Mean time to acknowledge (MTTA)")["numerator"] == 5 * 60
    assert by_team["filters"]["team"] == march.t1.pk


def test_restricted_incidents_count_only_for_readers_who_may_open_them(march, client_for):
    with scopes_disabled():
        Incident.objects.filter(pk__in=[march.b.pk, march.h.pk]).update(is_restricted=True)

    manager = client_for(Role.MANAGER).get("/api/v1/kpis/", MARCH).json()
    admin = client_for(Role.ADMIN).get("/api/v1/kpis/", MARCH).json()

    assert kpi(manager, "Incident volume")["value"] == 2
    assert kpi(manager, "Mean time to resolve (MTTR)")["numerator"] == 2 * HOUR
    assert kpi(admin, "Incident volume")["value"] == 4


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER])
def test_roles_without_view_dashboards_get_404(acme, client_for, role):
    response = client_for(role).get("/api/v1/kpis/")

    assert response.status_code == 404


def test_another_organisation_sees_only_its_own_figures(march, globex_admin, make_token, api):
    body = api(make_token(globex_admin)).get("/api/v1/kpis/", MARCH).json()

    assert body["period"]["time_zone"] == "America/New_York"
    assert kpi(body, "Incident volume")["value"] == 1  # globex's X only


def test_the_default_period_is_the_last_30_days(acme, client_for):
    body = client_for(Role.MANAGER).get("/api/v1/kpis/").json()

    import datetime

    since = datetime.date.fromisoformat(body["period"]["since"])
    until = datetime.date.fromisoformat(body["period"]["until"])
    assert (until - since).days == 29
    assert kpi(body, "Mean time to resolve (MTTR)")["value"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-10", "until": "2026-03-01"}, "non_field_errors"),
        ({"since": "2020-01-01", "until": "2026-03-01"}, "non_field_errors"),
        ({"since": "March"}, "since"),
        ({"since": "2026-03-01"}, "non_field_errors"),
        ({**MARCH, "team": "abc"}, "team"),
        ({**MARCH, "severity": 999999}, "severity"),
        ({**MARCH, "include_excluded": "maybe"}, "include_excluded"),
        ({**MARCH, "period": "7"}, "period"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(acme, client_for, params, field):
    response = client_for(Role.MANAGER).get("/api/v1/kpis/", params)

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_another_organisations_team_is_not_a_valid_filter(march, client_for):
    with scopes_disabled():
        from tests.factories import TeamFactory

        theirs = TeamFactory(organization=march.x.organization, name="Theirs")

    response = client_for(Role.MANAGER).get("/api/v1/kpis/", {**MARCH, "team": theirs.pk})

    assert response.status_code == 400
    assert "team" in response.json()["fields"]
