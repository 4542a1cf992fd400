"""CSV of every dashboard table and of the past executive reports: the same rows and numbers
as the page, the filters kept, spreadsheet formulas defused, and no 500 for a bad request."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.models import Incident
from reporting.models import ExecutiveReport, ReportSchedule
from tenancy.roles import Role
from tests.incidents.factories import CategoryFactory

pytestmark = pytest.mark.django_db

MARCH_QUERY = {"period": "custom", "since": "2026-03-01", "until": "2026-03-31"}


def url(org="acme", name="dashboard"):
    return reverse(f"reporting:{name}", kwargs={"org_slug": org})


def read(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.content.decode())))


def table(client, name, **query):
    return read(client.get(url(), {**MARCH_QUERY, **query, "format": "csv", "table": name}))


def test_the_kpi_rows_are_the_pages_rows(march, manager, login):
    client = login(manager)
    page = client.get(url(), MARCH_QUERY)

    rows = table(client, "kpis")

    assert rows[0] == ["Indicator", "Value", "Arithmetic", "Definition"]
    assert rows[1:] == [
        [row.name, row.value, row.arithmetic, row.definition.text] for row in page.context["rows"]
    ]
    # Worked out by hand (tests/reporting/conftest.py): A B C H count; MTTA 5+15+10+20 min.
    assert rows[1][:3] == ["Incident volume", "4", "incidents reported"]
    assert rows[2][:3] == [
        "Mean time to acknowledge (MTTA)",
        "12 min 30 s",
        "50 min ÷ 4 incidents; median 12 min 30 s",
    ]


def test_the_volume_tables_have_the_bars_numbers(march, manager, login):
    client = login(manager)

    assert table(client, "severity") == [["Severity", "Incidents"], ["SEV-2", "1"], ["SEV-3", "3"]]
    # B is on both services (counted once for each).
    assert table(client, "service") == [
        ["Service", "Incidents"],
        ["Checkout <web>", "2"],
        ["Payments API", "2"],
    ]
    assert table(client, "category") == [
        ["Category", "Incidents"],
        ["No category", "2"],
        ["Outage", "2"],
    ]
    assert table(client, "team") == [["Team", "Incidents"], ["Payments", "1"]]


def test_mean_time_between_with_its_arithmetic(march, manager, login):
    rows = table(login(manager), "between")

    # A at 10:00 on 2 March, B at 08:00 on 10 March (Berlin): 7 d 22 h between them.
    assert rows == [
        ["Service", "Mean time between", "Incidents", "First reported", "Last reported"],
        ["Payments API", "7 d 22 h", "2", "2026-03-02T10:00:00+01:00", "2026-03-10T08:00:00+01:00"],
    ]


def test_the_filters_apply_to_the_csv(march, manager, login):
    client = login(manager)

    assert table(client, "severity", include_excluded="on") == [
        ["Severity", "Incidents"],
        ["SEV-2", "1"],
        ["SEV-3", "6"],
    ]
    assert table(client, "kpis", service=march.s2.pk)[1][:2] == ["Incident volume", "2"]


def test_restricted_incidents_stay_out_for_readers_who_may_not_open_them(march, manager, login):
    with scopes_disabled():
        Incident.objects.filter(pk=march.h.pk).update(is_restricted=True)

    rows = table(login(manager), "severity")

    assert rows == [["Severity", "Incidents"], ["SEV-2", "1"], ["SEV-3", "2"]]


def test_another_organisations_incidents_never_appear(march, globex_admin, login):
    rows = read(
        login(globex_admin.user).get(
            url("globex"), {**MARCH_QUERY, "format": "csv", "table": "kpis"}
        )
    )

    assert rows[1][:2] == ["Incident volume", "1"]


def test_a_category_named_like_a_formula_is_defused(march, acme, manager, login):
    with scopes_disabled():
        evil = CategoryFactory(organization=acme, name="=cmd|' /C calc'!A0")
        Incident.objects.filter(pk=march.h.pk).update(category=evil)

    rows = table(login(manager), "category")

    assert ["'=cmd|' /C calc'!A0", "1"] in rows


def test_each_heading_offers_csv_with_the_current_filters(march, manager, login):
    body = login(manager).get(url(), MARCH_QUERY).content.decode()

    for name in ("kpis", "severity", "service", "category", "team", "between"):
        assert (
            "?period=custom&amp;since=2026-03-01&amp;until=2026-03-31&amp;format=csv&amp;"
            f"table={name}"
        ) in body


def test_an_unknown_table_is_404(march, manager, login):
    response = login(manager).get(url(), {**MARCH_QUERY, "format": "csv", "table": "secrets"})

    assert response.status_code == 404


def test_invalid_filters_are_a_400_that_says_why(acme, manager, login):
    response = login(manager).get(
        url(),
        {
            "period": "custom",
            "since": "2026-03-31",
            "until": "2026-03-01",
            "format": "csv",
            "table": "kpis",
        },
    )

    assert response.status_code == 400
    assert "must end on or after" in response.content.decode()


def test_an_empty_period_has_only_the_header(acme, manager, login):
    assert table(login(manager), "severity") == [["Severity", "Incidents"]]


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_dashboards_get_404(acme, make_member, login, role):
    member = make_member(acme, role)

    response = login(member.user).get(url(), {"format": "csv", "table": "kpis"})

    assert response.status_code == 404


def test_another_organisations_admin_gets_404(acme, stranger, login):
    assert login(stranger).get(url(), {"format": "csv", "table": "kpis"}).status_code == 404


# — the past executive reports ——————————————————————————————————————————————————————


def stored(organization, **fields):
    values = {
        "period_start": datetime.date(2026, 3, 1),
        "period_end": datetime.date(2026, 3, 31),
        "pdf": b"%PDF-1.7",
        "sha256": "a" * 64,
        "page_count": 3,
        "size": 8,
        "generated_at": datetime.datetime(2026, 4, 1, 6, 0, tzinfo=datetime.UTC),
    } | fields
    with scopes_disabled():
        return ExecutiveReport.objects.create(organization=organization, **values)


def test_the_past_reports_as_csv(acme, globex, admin, manager, login):
    with scopes_disabled():
        schedule = ReportSchedule.objects.create(
            organization=acme,
            name="=Board",
            frequency="weekly",
            weekday=0,
            hour=8,
            emails=["board@example.org"],
            created_by=admin,
        )
    stored(
        acme,
        schedule=schedule,
        period_start=datetime.date(2026, 3, 23),
        period_end=datetime.date(2026, 3, 29),
        generated_at=datetime.datetime(2026, 3, 30, 6, 0, tzinfo=datetime.UTC),
    )
    stored(acme, generated_by=admin, sha256="b" * 64)
    stored(globex, sha256="c" * 64)
    client = login(manager)

    assert (
        "?format=csv&amp;table=reports" in client.get(url(name="executive_list")).content.decode()
    )
    rows = read(client.get(url(name="executive_list"), {"format": "csv", "table": "reports"}))

    assert rows == [
        [
            "Period start",
            "Period end",
            "Frequency",
            "Generated at",
            "Generated by",
            "Pages",
            "SHA-256",
        ],
        [
            "2026-03-01",
            "2026-03-31",
            "Monthly",
            "2026-04-01T08:00:00+02:00",
            admin.display_name,
            "3",
            "b" * 64,
        ],
        [
            "2026-03-23",
            "2026-03-29",
            "Weekly",
            "2026-03-30T08:00:00+02:00",
            "schedule “=Board”",
            "3",
            "a" * 64,
        ],
    ]


def test_the_past_reports_csv_refuses_other_tables_and_roles(
    acme, make_member, manager, login, client
):
    assert (
        login(manager).get(url(name="executive_list"), {"format": "csv", "table": "x"}).status_code
        == 404
    )
    client.logout()
    responder = make_member(acme, Role.RESPONDER).user
    response = login(responder).get(
        url(name="executive_list"), {"format": "csv", "table": "reports"}
    )
    assert response.status_code == 404
