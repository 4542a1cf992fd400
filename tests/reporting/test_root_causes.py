"""The root-cause breakdown: counted incidents resolved in the period by root cause (worked
out by hand), per month in the organisation's time zone, every number linked to an incident
list that counts the same, and the post-mortems behind them — restricted incidents only for
readers who may open them. And the incident list's new root-cause and resolved-date filters."""

import csv
import html
import io
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.models import Incident
from reporting import definitions
from tenancy.roles import Role
from tests.reporting.conftest import berlin, make_incident, postmortem

pytestmark = pytest.mark.django_db

PERIOD = {"period": "custom", "since": "2026-02-15", "until": "2026-03-31"}


def url(org="acme"):
    return reverse("reporting:root_causes", kwargs={"org_slug": org})


def incidents_url(org="acme"):
    return reverse("incidents:incident_list", kwargs={"org_slug": org})


def set_cause(incident, cause, **fields):
    with scopes_disabled():
        Incident.objects.filter(pk=incident.pk).update(root_cause_category=cause, **fields)


@pytest.fixture
def causes(march, acme, admin):
    """On top of tests/reporting/conftest.py's March (A closed 2 March, B resolved 11 March, H
    resolved 20 March; G a test incident; globex's X): A and B code change, H not set (and
    A's title carries an e-mail address). J capacity, resolved 27 February; K capacity,
    resolved 00:30 Berlin on 1 March (still February in UTC); L configuration change,
    restricted, resolved 15 March; M dependency, resolved 16 March but reopened since.

    Counted for a manager, 15 Feb – 31 Mar: code change 2 (A B), capacity 2 (J K), not set
    1 (H): 5. February: capacity 1 (J); March: code change 2, capacity 1 (K), not set 1.
    An admin also counts L (configuration change, March)."""
    set_cause(march.a, "code_change", title="Card payments fail for jane@example.com")
    set_cause(march.b, "code_change")
    j = make_incident(
        acme,
        admin,
        reported=berlin(27, 8, month=2),
        resolved=berlin(27, 9, month=2),
        status=Status.RESOLVED,
    )
    k = make_incident(
        acme,
        admin,
        reported=berlin(28, 22, month=2),
        resolved=berlin(1, 0, 30),
        status=Status.CLOSED,
    )
    l_ = make_incident(
        acme,
        admin,
        reported=berlin(15, 8),
        resolved=berlin(15, 9),
        status=Status.RESOLVED,
        is_restricted=True,
    )
    m = make_incident(
        acme,
        admin,
        reported=berlin(16, 8),
        resolved=berlin(16, 9),
        status=Status.INVESTIGATING,
        reopen_count=1,
    )
    set_cause(j, "capacity")
    set_cause(k, "capacity")
    set_cause(l_, "config_change", title="Secret rotation")
    set_cause(m, "dependency")
    set_cause(march.g, "hardware")
    set_cause(march.x, "capacity")
    postmortem(l_)
    return SimpleNamespace(march=march, j=j, k=k, l=l_, m=m)


def bars(response) -> list[tuple[str, int]]:
    return [(bar.label, bar.count) for bar, _ in response.context["bars"]]


def month_table(response) -> list[tuple[str, list[int], int]]:
    return [
        (f"{month.first:%Y-%m}", [count for count, _ in cells], total)
        for month, cells, total, _ in response.context["month_rows"]
    ]


def list_count(client, href: str) -> int:
    response = client.get(href)
    assert response.status_code == 200
    return response.context["page"].paginator.count


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_counts_by_root_cause_worked_out_by_hand(causes, manager, login):
    response = login(manager).get(url(), PERIOD)

    assert response.status_code == 200
    assert bars(response) == [("Capacity", 2), ("Code change", 2), ("Not set", 1)]
    assert response.context["total"] == 5
    assert "<svg" in response.content.decode()


def test_per_month_in_the_organisations_time_zone(causes, manager, login):
    response = login(manager).get(url(), PERIOD)

    assert [label for _, label in response.context["columns"]] == [
        "Capacity",
        "Code change",
        "Not set",
    ]
    # K, resolved 00:30 Berlin on 1 March, is March's.
    assert month_table(response) == [("2026-02", [1, 0, 0], 1), ("2026-03", [1, 2, 1], 4)]


def test_every_bar_and_cell_counts_the_same_as_the_list_it_links_to(causes, manager, login):
    client = login(manager)
    response = client.get(url(), PERIOD)

    linked = [(bar.count, href) for bar, href in response.context["bars"]]
    for _, cells, total, total_href in response.context["month_rows"]:
        linked += [cell for cell in cells if cell[1]] + [(total, total_href)]
    linked.append((response.context["total"], response.context["total_href"]))
    svg = str(response.context["chart"])
    svg_links = re.findall(r'<a href="([^"]+)" aria-label="(.+?): (\d+)">', svg)
    linked += [(int(count), html.unescape(href)) for href, _, count in svg_links]

    # 3 bars, 4 non-zero cells, 2 month totals, the total, 3 chart bars.
    assert len(linked) == 3 + 4 + 2 + 1 + 3
    for count, href in linked:
        assert list_count(client, href) == count, href


def test_an_admin_also_counts_the_restricted_incident(causes, admin, login):
    response = login(admin).get(url(), PERIOD)

    assert ("Configuration change", 1) in bars(response)
    assert response.context["total"] == 6
    assert "Secret rotation" in response.content.decode()


def test_the_post_mortems_behind_them(causes, manager, login):
    response = login(manager).get(url(), PERIOD)

    keys = [pm.incident.key for pm in response.context["page"].object_list]
    march = causes.march
    # Ordered by root cause (blank first), then latest resolution first: H, then B, A.
    assert keys == [march.h.key, march.b.key, march.a.key]
    body = response.content.decode()
    assert "[e-mail hidden]" in body
    assert "jane@example.com" not in body
    assert "Secret rotation" not in body
    assert march.g.key not in body  # a test incident
    assert march.x.key not in body  # globex


def test_the_post_mortems_are_paginated(causes, manager, login, monkeypatch):
    monkeypatch.setattr("reporting.root_cause_views.PAGE_SIZE", 2)
    client = login(manager)

    first = client.get(url(), PERIOD)
    second = client.get(url(), {**PERIOD, "page": 2})

    assert len(first.context["page"].object_list) == 2
    assert [pm.incident.key for pm in second.context["page"].object_list] == [causes.march.a.key]
    assert "since=2026-02-15" in first.content.decode().split('rel="next"')[0].rsplit("href", 1)[1]


def test_filters_narrow_the_breakdown(causes, manager, login):
    response = login(manager).get(url(), {**PERIOD, "service": causes.march.s1.pk})

    assert bars(response) == [("Code change", 2)]  # A and B are on Payments API


def test_another_organisation_sees_only_its_own(causes, globex_admin, login):
    response = login(globex_admin.user).get(url("globex"), PERIOD)

    assert bars(response) == [("Capacity", 1)]


def test_the_tables_as_csv(causes, manager, login):
    client = login(manager)

    assert read_csv(client.get(url(), {**PERIOD, "format": "csv", "table": "causes"})) == [
        ["Root cause", "Incidents resolved"],
        ["Capacity", "2"],
        ["Code change", "2"],
        ["Not set", "1"],
    ]
    assert read_csv(client.get(url(), {**PERIOD, "format": "csv", "table": "months"})) == [
        ["Month", "First day", "Last day", "Capacity", "Code change", "Not set", "Total"],
        ["2026-02", "2026-02-15", "2026-02-28", "1", "0", "0", "1"],
        ["2026-03", "2026-03-01", "2026-03-31", "1", "2", "1", "4"],
    ]
    rows = read_csv(client.get(url(), {**PERIOD, "format": "csv", "table": "postmortems"}))
    assert [row[0] for row in rows[1:]] == [
        causes.march.h.key,
        causes.march.b.key,
        causes.march.a.key,
    ]
    assert rows[3][1] == "Card payments fail for [e-mail hidden]"
    assert client.get(url(), {**PERIOD, "format": "csv", "table": "x"}).status_code == 404


def test_an_empty_period_says_so(acme, manager, login):
    response = login(manager).get(url(), PERIOD)

    body = response.content.decode()
    assert "No incidents were resolved in this period" in body
    assert "None of the incidents resolved in this period has a post-mortem yet." in body


def test_a_bad_period_is_a_form_error_not_a_500(acme, manager, login):
    client = login(manager)
    bad = {"period": "custom", "since": "2026-03-31", "until": "nonsense"}

    response = client.get(url(), bad)

    assert response.status_code == 200
    assert response.context["period"] is None
    assert 'class="error" role="alert"' in response.content.decode()
    assert client.get(url(), {**bad, "format": "csv", "table": "causes"}).status_code == 400


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_dashboards_get_404(acme, make_member, login, role):
    member = make_member(acme, role)

    assert login(member.user).get(url()).status_code == 404


def test_another_organisations_admin_gets_404(acme, stranger, login):
    assert login(stranger).get(url()).status_code == 404


def test_the_documentation_states_the_definition():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reporting.md").read_text()
    assert definitions.ROOT_CAUSES.text in doc


# — the incident list's filters ——————————————————————————————————————————————————————


def listed(client, **query) -> set[str]:
    response = client.get(incidents_url(), query)
    assert response.status_code == 200
    return {incident.key for incident in response.context["page"].object_list}


def test_the_incident_list_filters_by_root_cause(causes, admin, login):
    client = login(admin)
    march = causes.march

    assert listed(client, root_cause="capacity") == {causes.j.key, causes.k.key}
    assert listed(client, root_cause="none", since="2026-03-01", until="2026-03-31") == {
        march.c.key,
        march.e.key,
        march.f.key,
        march.h.key,
    }
    # A and B with the other filters still applied.
    assert listed(client, root_cause="code_change", service=march.s1.pk) == {
        march.a.key,
        march.b.key,
    }


def test_the_incident_list_filters_by_resolution_date_in_the_organisations_time_zone(
    causes, admin, login
):
    client = login(admin)

    # K resolved 00:30 Berlin on 1 March; M was resolved on the 16th but is open again.
    assert causes.k.key in listed(client, resolved_since="2026-03-01", resolved_until="2026-03-01")
    assert listed(client, resolved_since="2026-03-16", resolved_until="2026-03-16") == set()
    assert listed(client, resolved_since="2026-02-01", resolved_until="2026-02-28") == {
        causes.j.key
    }


def test_an_unknown_root_cause_is_a_form_error_not_a_500(causes, admin, login):
    response = login(admin).get(incidents_url(), {"root_cause": "gremlins"})

    assert response.status_code == 200
    assert "gremlins is not one of the available choices" in response.content.decode()


def test_the_query_count_does_not_grow_with_the_data(causes, acme, admin, manager, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(manager)
    client.get(url(), PERIOD)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(), PERIOD).status_code == 200
        return len(captured)

    before = queries()
    for day in range(3, 9):
        incident = make_incident(
            acme, admin, reported=berlin(day, 8), resolved=berlin(day, 9), status=Status.RESOLVED
        )
        set_cause(incident, "security")
        postmortem(incident)

    assert queries() == before
