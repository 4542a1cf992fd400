"""The trends page on the hand-built weeks of tests/reporting/trends_data.py: what it counts
for whom, drill-downs that count the same as the chart, before/after arithmetic, flagged
weeks, CSV of each table, form errors, 404s, a fixed number of queries, and the executive
PDF's Anomalies section."""

import csv
import datetime
import html
import io
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reporting import executive, trends
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.reporting.conftest import berlin, make_incident
from tests.reporting.trends_data import history_fixture  # noqa: F401 — the fixture

pytestmark = pytest.mark.django_db

WEEKS = {"unit": "week", "since": "2026-02-02", "until": "2026-03-29"}
FULL = {**WEEKS, "change": "2026-03-02", "weeks": "4"}


def url(org="acme"):
    return reverse("reporting:trends", kwargs={"org_slug": org})


def volumes(response) -> list[int]:
    return [point.volume for point, *_ in response.context["rows"]]


def links(svg: str) -> list[tuple[str, int, str]]:
    """(label, count, href) of each linked point of a chart."""
    return [
        (html.unescape(label), int(count), html.unescape(href))
        for href, label, count in re.findall(
            r'<a href="([^"]+)" aria-label="(.+?): (\d+)(?: incidents?)?(?: — flagged)?">', svg
        )
    ]


def list_count(client, href: str) -> int:
    response = client.get(href)
    assert response.status_code == 200
    return response.context["page"].paginator.count


def rows_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_an_admin_sees_every_week_with_a_fitted_trend(history, admin, login):
    response = login(admin).get(url(), WEEKS)

    assert response.status_code == 200
    assert volumes(response) == [1, 1, 1, 1, 4, 0, 1, 0]
    volume = response.context["charts"][0]
    # x̄ 3.5, ȳ 9/8: Σ(x − x̄)·y = −8 + 2 + 2.5 = −3.5; Σ(x − x̄)² = 42 → −0.083 a week
    assert volume.slope == "−0.1 incidents per week"
    assert volume.last_change == "−100 %"  # 1 → 0
    assert volume.overall_change == "−100 %"
    mttr = response.context["charts"][1]
    # 1 h ×4 then 2 h: slope over x 0..4 = (Σ(x − 2)·y) ÷ 10 = 7200 ÷ 10 s = 12 min a week
    assert mttr.slope == "+12 min per week"
    body = response.content.decode()
    assert "Least-squares trend line" in body
    assert 'aria-current="page">Trends</a>' in body


def test_a_restricted_incident_counts_only_for_readers_who_may_see_it(history, manager, login):
    assert volumes(login(manager).get(url(), WEEKS)) == [1, 1, 1, 1, 3, 0, 1, 0]


def test_another_organisations_incidents_never_count(history, globex_admin, login):
    response = login(globex_admin.user).get(url("globex"), WEEKS)

    assert sum(volumes(response)) == 1  # globex's X only
    assert response.context["anomalies"] == []


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_every_point_and_flagged_week_counts_the_same_as_the_list_it_links_to(
    history, login, request, who
):
    client = login(request.getfixturevalue(who))
    response = client.get(url(), FULL)

    points = links(str(response.context["charts"][0].chart))
    assert [count for _, count, _ in points] == volumes(response)
    for label, count, href in points:
        assert list_count(client, href) == count, label
    for point, href, *_ in response.context["rows"]:
        assert list_count(client, href) == point.volume
    counted = [r for r in response.context["anomalies"] if r["anomaly"].measure == trends.COUNT]
    assert len(counted) == 2
    for row in counted:
        assert list_count(client, row["href"]) == row["anomaly"].value
    comparison = response.context["comparison"]
    assert list_count(client, comparison["before_href"]) == comparison["before"].volume
    assert list_count(client, comparison["after_href"]) == comparison["after"].volume


def test_before_after_shows_the_arithmetic(history, admin, login):
    response = login(admin).get(url(), FULL)

    comparison = response.context["comparison"]
    assert comparison["weeks"] == 4
    rows = {row["name"]: row for row in comparison["rows"]}
    volume = rows["Incidents per week"]
    assert (volume["before"], volume["after"], volume["change"], volume["percent"]) == (
        "1",
        "1.25",
        "+0.25",
        "+25 %",
    )
    assert volume["arithmetic"] == "4 ÷ 4 → 5 ÷ 4"
    mttr = rows["Mean time to resolve (MTTR)"]
    assert (mttr["before"], mttr["after"], mttr["change"], mttr["percent"]) == (
        "1 h 0 min",
        "2 h 0 min",
        "+1 h 0 min",
        "+100 %",
    )
    assert mttr["arithmetic"] == "4 h 0 min ÷ 4 → 8 h 0 min ÷ 4"
    mtta = rows["Mean time to acknowledge (MTTA)"]
    assert (mtta["before"], mtta["after"], mtta["change"], mtta["percent"]) == (
        "10 min",
        "22 min",
        "+12 min",
        "+120 %",
    )
    assert rows["SLA compliance: Acknowledge"]["before"] == "—"


def test_before_after_is_clipped_to_the_complete_weeks_up_to_yesterday(acme, admin, login):
    today = timezone.now().astimezone(acme.tzinfo).date()
    change = today - datetime.timedelta(days=15)  # two complete weeks since

    response = login(admin).get(url(), {"change": change.isoformat(), "weeks": "8"})

    comparison = response.context["comparison"]
    assert (comparison["weeks"], comparison["asked"]) == (2, 8)
    assert comparison["before"].first == change - datetime.timedelta(days=14)
    assert comparison["after"].last == change + datetime.timedelta(days=13)
    assert "clipped to the complete weeks" in response.content.decode()


def test_flagged_weeks_and_the_baseline_chart(history, admin, login):
    response = login(admin).get(url(), {**WEEKS, "focus": f"service:{history.s1.pk}"})

    assert [
        (r["anomaly"].subject.label, r["anomaly"].measure, r["value"], r["mean"], r["sigma"])
        for r in response.context["anomalies"]
    ] == [
        ("Outage", "incidents", "4", "1", "0"),
        ("Outage", "repair time", "2 h 0 min", "1 h 0 min", "0 s"),
        ("Payments API", "incidents", "4", "1", "0"),
        ("Payments API", "repair time", "2 h 0 min", "1 h 0 min", "0 s"),
    ]
    chart = str(response.context["focus_chart"])
    assert "vc-band" in chart
    assert "2 Mar: 4 — flagged" in chart
    # Weeks before 4 weeks of history have no band: 2 Feb … 23 Feb, then 2 Mar … 23 Mar.
    assert chart.count('class="vc-band"') == 4


def test_csv_of_each_table(history, admin, login):
    client = login(admin)

    series = rows_of(client.get(url(), {**FULL, "format": "csv", "table": "series"}))
    assert series[0][:3] == ["first day", "last day", "incidents"]
    assert series[5] == ["2026-03-02", "2026-03-08", "4", "4", "7200", "4", "1200"]
    assert series[6] == ["2026-03-09", "2026-03-15", "0", "0", "", "0", ""]
    assert len(series) == 9

    comparison = rows_of(client.get(url(), {**FULL, "format": "csv", "table": "before_after"}))
    # (csv_safe guards cells starting with + against formula injection with a quote)
    assert comparison[1] == ["Incidents per week", "1", "1.25", "'+0.25", "'+25 %", "4 ÷ 4 → 5 ÷ 4"]

    flagged = rows_of(client.get(url(), {**FULL, "format": "csv", "table": "anomalies"}))
    assert flagged[1:] == [
        ["category", "Outage", "incidents", "2026-03-02", "4", "1", "0", "1"],
        ["category", "Outage", "repair time", "2026-03-02", "7200", "3600", "0", "3600"],
        ["service", "Payments API", "incidents", "2026-03-02", "4", "1", "0", "1"],
        ["service", "Payments API", "repair time", "2026-03-02", "7200", "3600", "0", "3600"],
    ]


def test_the_default_period_is_the_last_26_full_weeks(acme, manager, login):
    today = timezone.now().astimezone(acme.tzinfo).date()
    response = login(manager).get(url())

    assert response.status_code == 200
    whole = response.context["whole"]
    assert len(response.context["rows"]) == 26
    assert whole.first.weekday() == 0
    assert whole.last == today - datetime.timedelta(days=today.weekday() + 1)
    body = response.content.decode()
    assert "Choose a change date above" in body
    assert "No week of this period was flagged" in body


def test_monthly_buckets(history, admin, login):
    response = login(admin).get(
        url(), {"unit": "month", "since": "2026-02-10", "until": "2026-03-05"}
    )

    assert volumes(response) == [4, 5]  # February, March (W1–W5)
    assert response.context["charts"][0].slope == "+1 incidents per month"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"unit": "yearly"}, "unit", "Select a valid choice"),
        ({"since": "soon"}, "since", "Enter a valid date"),
        ({"since": "2026-03-01", "until": "2026-02-01"}, "until", "must end on or after"),
        ({"since": "2026-03-02", "until": "2026-03-08"}, "since", "at least two"),
        ({"since": "2016-01-01", "until": "2026-03-01"}, "since", "at most 156"),
        ({"until": "2999-01-01"}, "until", "Only complete weeks are shown"),
    ],
)
def test_bad_trend_parameters_are_explained_next_to_the_field(
    acme, manager, login, query, field, message
):
    response = login(manager).get(url(), query)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert "charts" not in response.context
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"change": "2999-01-01"}, "change", "At least one whole week must follow the date"),
        ({"change": "2026-03-02", "weeks": "0"}, "weeks", "greater than or equal to 1"),
        ({"change": "2026-03-02", "weeks": "many"}, "weeks", "Enter a whole number"),
    ],
)
def test_bad_before_after_parameters_leave_the_trends_shown(
    acme, manager, login, query, field, message
):
    response = login(manager).get(url(), query)

    assert response.status_code == 200
    assert message in " ".join(response.context["before_after"].errors[field])
    assert response.context["comparison"] is None
    assert response.context["charts"]


def test_a_csv_asked_for_with_bad_parameters_shows_the_form_error(acme, manager, login):
    response = login(manager).get(url(), {"unit": "yearly", "format": "csv", "table": "series"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Correct the filters above" in response.content.decode()


def test_an_unknown_focus_is_a_form_error(acme, manager, login):
    response = login(manager).get(url(), {"focus": "service:999999"})

    assert response.status_code == 200
    assert response.context["focus_form"].errors["focus"]
    assert response.context["focus_chart"] is None


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_dashboards_get_404(acme, make_member, login, role):
    assert login(make_member(acme, role).user).get(url()).status_code == 404


def test_another_organisations_admin_gets_404(acme, stranger, login):
    assert login(stranger).get(url()).status_code == 404


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(), {**FULL, "focus": "category:0"})
    assert response.status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_the_incidents(history, acme, admin, manager, login):
    client = login(manager)
    _queries(client)  # the first request of a session also stores the organisation in it
    before = _queries(client)
    for day in range(2, 27):
        make_incident(
            acme,
            admin,
            reported=berlin(day, 10),
            acknowledged=berlin(day, 10, 7),
            resolved=berlin(day, 12),
            status="resolved",
            primary_service=history.s2,
            affected=[history.s1, history.s2],
            category=history.c1,
        )

    assert _queries(client) == before
    assert before <= 50


def test_the_executive_report_lists_the_flagged_weeks(history, acme):
    """The report counts restricted incidents too: W1–W4 are 4 in the week of 2 March."""
    with org_scope(acme):
        data = executive.context(
            organization=acme,
            first=datetime.date(2026, 3, 2),
            last=datetime.date(2026, 3, 8),
            frequency=executive.WEEKLY,
        )

    assert [(a["label"], a["measure"], a["value"], a["threshold"]) for a in data["anomalies"]] == [
        ("Outage", "incidents", "4", "1"),
        ("Outage", "repair time", "2 h 0 min", "1 h 0 min"),
        ("Payments API", "incidents", "4", "1"),
        ("Payments API", "repair time", "2 h 0 min", "1 h 0 min"),
    ]
    page = render_to_string(
        "reporting/executive_pdf.html", {**data, "generated_at": timezone.now()}
    )
    assert "Anomalies (4)" in page
    assert "Payments API (service)" in page


def test_a_filtered_page_links_only_what_the_list_can_show(history, admin, login):
    """Filtered by Checkout, W5 (primary Payments API, affected Checkout) is the one incident
    counted; the list cannot show "Checkout and Payments API", so Payments API's week is not
    linked, and no week is flagged from a single incident."""
    client = login(admin)
    response = client.get(
        url(), {**WEEKS, "service": history.s2.pk, "focus": f"service:{history.s1.pk}"}
    )

    assert volumes(response) == [0, 0, 0, 0, 0, 0, 1, 0]
    assert response.context["anomalies"] == []
    assert links(str(response.context["focus_chart"])) == []
    week = links(str(response.context["charts"][0].chart))[6]
    assert list_count(client, week[2]) == 1
