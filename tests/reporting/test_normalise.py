"""The comparison page on a hand-built March 2026 in acme (Europe/Berlin): incidents per tier,
per team member and per unit of exposure, every number worked out here by hand.

Services: Payments API and Card vault (tier 1), Checkout (tier 2), Wiki (tier 3), Old wiki
(tier 3, inactive). Incidents, all reported in March unless said:
  A  2 Mar, primary Payments API, affected Payments API + Card vault; owning Payments;
     detected 9:50, resolved 11:50 (2 h)
  B 10 Mar, primary Checkout, affected Payments API; owning Platform, involved Payments;
     resolved after 4 h
  C  1 Mar 00:30 Berlin (28 Feb in UTC): primary Wiki; open
  R  5 Mar, restricted, primary Payments API; owning Payments; resolved after 1 h
  D  1 Apr 00:30 Berlin (31 Mar in UTC): primary Payments API — outside March
  E  6 Mar, dismissed, primary Payments API — excluded
  X  globex, 12 Mar — never counts
"""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.selectors import incident_list
from reporting import kpis, normalise
from reporting.models import ExposureFigure
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.incidents.factories import ServiceFactory
from tests.reporting.conftest import BERLIN, MARCH, berlin, make_incident

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)
MARCH_QUERY = {"period": "custom", "since": "2026-03-01", "until": "2026-03-31"}


def url(org="acme"):
    return reverse("reporting:comparison", kwargs={"org_slug": org})


def figure(org, week, value, unit, service=None):
    with scopes_disabled():
        return ExposureFigure.objects.create(
            organization=org, service=service, week=week, value=value, unit=unit
        )


@pytest.fixture
def fleet(acme, globex, admin, globex_admin, make_member):
    with scopes_disabled():
        pay = ServiceFactory(organization=acme, name="Payments API", tier=1)
        vault = ServiceFactory(organization=acme, name="Card vault", tier=1)
        checkout = ServiceFactory(organization=acme, name="Checkout", tier=2)
        wiki = ServiceFactory(organization=acme, name="Wiki", tier=3)
        ServiceFactory(organization=acme, name="Old wiki", tier=3, is_active=False)
        glx = ServiceFactory(organization=globex, name="Payments API", tier=1)
        # Payments: two active members, one deactivated, one who left acme (member of globex).
        active = [make_member(acme, Role.RESPONDER).user for _ in range(2)]
        deactivated = make_member(acme, Role.RESPONDER, is_active=False).user
        left = UserFactory()
        MembershipFactory(organization=globex, user=left)
        payments = TeamFactory(
            organization=acme, name="Payments", members=[*active, deactivated, left]
        )
        platform = TeamFactory(organization=acme, name="Platform")
    a = make_incident(
        acme,
        admin,
        reported=berlin(2, 10),
        detected=berlin(2, 9, 50),
        resolved=berlin(2, 11, 50),
        status=Status.RESOLVED,
        primary_service=pay,
        affected=[pay, vault],
        owning_team=payments,
    )
    b = make_incident(
        acme,
        admin,
        reported=berlin(10, 8),
        resolved=berlin(10, 12),
        status=Status.RESOLVED,
        primary_service=checkout,
        affected=[pay],
        owning_team=platform,
    )
    c = make_incident(acme, admin, reported=berlin(1, 0, 30), primary_service=wiki)
    r = make_incident(
        acme,
        admin,
        reported=berlin(5, 10),
        resolved=berlin(5, 11),
        status=Status.RESOLVED,
        primary_service=pay,
        owning_team=payments,
        is_restricted=True,
    )
    make_incident(acme, admin, reported=berlin(1, 0, 30, month=4), primary_service=pay)
    make_incident(acme, admin, reported=berlin(6, 10), status=Status.DISMISSED, primary_service=pay)
    make_incident(globex, globex_admin.user, reported=berlin(12, 10), primary_service=glx)
    with scopes_disabled():
        b.involved_teams.add(payments)
    return SimpleNamespace(
        a=a, b=b, c=c, r=r, pay=pay, vault=vault, checkout=checkout, wiki=wiki, glx=glx,
        payments=payments, platform=platform,
    )  # fmt: skip


@pytest.fixture
def exposure(fleet, acme, globex):
    """March 2026 starts on a Sunday and ends on a Tuesday: the weeks of 23 Feb (1 day in
    March), 2, 9, 16, 23 Mar (7 days each) and 30 Mar (2 days) overlap it."""
    weeks = [datetime.date(2026, 2, 23) + datetime.timedelta(weeks=n) for n in range(6)]
    for week in weeks:
        figure(acme, week, 7000, "requests")  # 1000 + 4 × 7000 + 2000 = 31,000 in March
        figure(acme, week, 7, "deploys", fleet.checkout)  # 1 + 28 + 2 = 31
        figure(globex, week, 1, "requests")
    # Payments API: only two of the six weeks.
    figure(acme, weeks[1], 10, "deploys", fleet.pay)
    figure(acme, weeks[2], 10, "deploys", fleet.pay)
    # Outside the period: the week of 6 April.
    figure(acme, datetime.date(2026, 4, 6), 999999, "requests")
    return weeks


def compute(acme, membership, **filters):
    with org_scope(acme):
        incidents = incident_list(organization=acme, user=membership.user, membership=membership)
        return normalise.comparison(
            incidents=incidents,
            organization=acme,
            period=kpis.Period(*MARCH, BERLIN),
            filters=kpis.Filters(**filters),
        )


@pytest.fixture
def manager_membership(acme, manager):
    with scopes_disabled():
        return manager.memberships.get(organization=acme)


# — arithmetic ————————————————————————————————————————————————————————————————————————


def test_tiers_count_an_incident_once_per_tier(fleet, acme, acme_admin):
    """Admin sees R. Tier 1: A (two tier-1 services, counted once), B (affected Payments
    API), R = 3 over 2 active services; tier 2: B; tier 3: C (00:30 Berlin on 1 March) over
    Wiki only (Old wiki is inactive). D, E and globex's X never count."""
    result = compute(acme, acme_admin)

    assert result.volume == 4  # A B C R
    rows = {row.tier: row for row in result.tiers}
    assert (rows[1].incidents, rows[1].services, rows[1].per_service) == (3, 2, Decimal("1.5"))
    assert (rows[2].incidents, rows[2].services, rows[2].per_service) == (1, 1, Decimal(1))
    assert (rows[3].incidents, rows[3].services, rows[3].per_service) == (1, 1, Decimal(1))


def test_tier_mttr_is_the_mean_repair_time_of_the_tiers_resolved_incidents(fleet, acme, acme_admin):
    rows = {row.tier: row for row in compute(acme, acme_admin).tiers}

    assert (rows[1].resolved, rows[1].mttr) == (3, (2 * HOUR + 4 * HOUR + HOUR) / 3)
    assert (rows[2].resolved, rows[2].mttr) == (1, 4 * HOUR)
    assert (rows[3].resolved, rows[3].mttr) == (0, None)


def test_a_reader_who_may_not_open_the_restricted_incident_does_not_count_it(
    fleet, acme, manager_membership
):
    result = compute(acme, manager_membership)

    rows = {row.tier: row for row in result.tiers}
    assert result.volume == 3
    assert (rows[1].incidents, rows[1].per_service, rows[1].mttr) == (2, Decimal(1), 3 * HOUR)


def test_excluded_incidents_count_when_included(fleet, acme, acme_admin):
    rows = {row.tier: row for row in compute(acme, acme_admin, include_excluded=True).tiers}

    assert rows[1].incidents == 4  # + E (dismissed)


def test_team_size_counts_active_members_still_in_the_organisation(fleet, acme, acme_admin):
    """Payments: 4 people, of whom 1 deactivated and 1 no longer in acme → 2. Incidents: A, R
    (owning), B (involved) = 3 → 1.5 per member. Platform: B, no members → "—"."""
    teams = compute(acme, acme_admin).teams

    assert [(t.name, t.incidents, t.size, t.per_member) for t in teams] == [
        ("Payments", 3, 2, Decimal("1.5")),
        ("Platform", 1, 0, None),
    ]


def test_exposure_counts_partial_weeks_pro_rata_and_names_missing_weeks(
    exposure, fleet, acme, acme_admin
):
    rows = {(row.label, row.unit): row for row in compute(acme, acme_admin).exposure}

    assert set(rows) == {
        ("Whole organisation", "requests"),
        ("Checkout", "deploys"),
        ("Payments API", "deploys"),
    }
    org = rows["Whole organisation", "requests"]
    assert (org.incidents, org.exposure, org.per_thousand) == (4, Decimal(31000), True)
    assert org.rate == Decimal(4) * 1000 / 31000  # 0.129 per 1,000 requests
    assert org.missing == []
    checkout = rows["Checkout", "deploys"]
    assert (checkout.incidents, checkout.exposure, checkout.per_thousand) == (1, 31, False)
    assert checkout.rate == Decimal(1) / 31  # per deploy
    pay = rows["Payments API", "deploys"]
    assert pay.incidents == 3  # A, B (affected), R
    assert pay.rate is None
    assert pay.missing == [exposure[0], exposure[3], exposure[4], exposure[5]]


def test_no_exposure_means_no_rows_and_zero_exposure_no_rate(fleet, acme, acme_admin):
    assert compute(acme, acme_admin).exposure == []

    figure(acme, datetime.date(2026, 2, 23), 0, "orders")
    for n in range(1, 6):
        figure(acme, datetime.date(2026, 2, 23) + datetime.timedelta(weeks=n), 0, "orders")
    (row,) = compute(acme, acme_admin).exposure
    assert (row.exposure, row.missing, row.rate) == (0, [], None)


def test_a_period_inside_one_week_counts_that_weeks_days(exposure, fleet, acme, acme_admin):
    """3–4 March: two days of the week of 2 March = 2/7 × 7000 = 2000 requests; no incident."""
    with org_scope(acme):
        incidents = incident_list(organization=acme, user=acme_admin.user, membership=acme_admin)
        result = normalise.comparison(
            incidents=incidents,
            organization=acme,
            period=kpis.Period(datetime.date(2026, 3, 3), datetime.date(2026, 3, 4), BERLIN),
            filters=kpis.Filters(),
        )
    org = next(row for row in result.exposure if row.service_id is None)
    assert (org.exposure, org.incidents, org.rate) == (Decimal(2000), 0, Decimal(0))


# — the page ————————————————————————————————————————————————————————————————————————————


def test_manager_sees_the_three_tables(exposure, fleet, manager, login):
    response = login(manager).get(url(), MARCH_QUERY)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Incidents per service tier" in body
    assert "Incidents per team member" in body
    assert "per 1,000 requests" in body
    assert "0.0968" in body  # 3 visible incidents × 1000 ÷ 31,000
    assert "No figure for the weeks of 23 Feb, 16 Mar, 23 Mar, 30 Mar." in body
    assert "How is this computed" in body


def test_team_counts_link_to_the_incident_list_filtered_the_same_way(fleet, manager, login):
    client = login(manager)
    response = client.get(url(), MARCH_QUERY)

    (row, _, href) = next(t for t in response.context["teams"] if t[0].name == "Payments")
    assert f"team={fleet.payments.pk}" in href
    assert "counted=true" in href
    listed = client.get(href)
    assert listed.context["page"].paginator.count == row.incidents == 2  # A, B (not R)


def test_query_count_does_not_grow_with_the_data(
    exposure, fleet, acme, admin, manager, login, django_assert_max_num_queries
):
    client = login(manager)
    with django_assert_max_num_queries(30) as captured:
        client.get(url(), MARCH_QUERY)
    before = len(captured)
    with scopes_disabled():
        for n in range(5):
            team = TeamFactory(organization=acme, name=f"Extra {n}")
            service = ServiceFactory(organization=acme, name=f"Extra {n}", tier=1 + n % 3)
            figure(acme, exposure[1], 5, "deploys", service)
            make_incident(
                acme, admin, reported=berlin(3, 10), primary_service=service, owning_team=team
            )
    with django_assert_max_num_queries(before):
        client.get(url(), MARCH_QUERY)


@pytest.mark.parametrize(
    ("table", "first_rows"),
    [
        ("tiers", ["tier,incidents,active services", "1,2,2,1.0000,2,10800"]),
        ("teams", ["team,incidents,active members", "Payments,2,2,1.0000"]),
    ],
)
def test_csv_of_each_table(fleet, manager, login, table, first_rows):
    response = login(manager).get(url(), {**MARCH_QUERY, "format": "csv", "table": table})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith(first_rows[0])
    assert lines[1] == first_rows[1]


def test_csv_of_exposure(exposure, fleet, manager, login):
    response = login(manager).get(url(), {**MARCH_QUERY, "format": "csv", "table": "exposure"})

    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "scope,unit,incidents,exposure in period,weeks without a figure,"
        "incidents per exposure,per how many units"
    )
    assert lines[1] == "Whole organisation,requests,3,31000.00,,0.096774,1000"
    assert "Payments API,deploys,2,20.00,2026-02-23 2026-03-16 2026-03-23 2026-03-30,,1" in lines


def test_csv_of_an_unknown_table_is_404(fleet, manager, login):
    response = login(manager).get(url(), {**MARCH_QUERY, "format": "csv", "table": "nope"})
    assert response.status_code == 404


def test_empty_states(acme, manager, login):
    response = login(manager).get(url())

    body = response.content.decode()
    assert response.status_code == 200
    assert "This organisation has no teams yet." in body
    assert "No exposure figures for the weeks of this period." in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "custom", "since": "2026-03-31", "until": "2026-03-01"}, "must end on or"),
        ({"period": "custom", "since": "yesterday", "until": "2026-03-01"}, "Enter a valid date"),
        ({"period": "custom", "since": "2026-03-01"}, "Choose both dates"),
        ({"period": "nonsense"}, "Select a valid choice"),
        ({"team": "999999"}, "Select a valid choice"),
    ],
)
def test_bad_parameters_show_a_form_error(acme, manager, login, query, message):
    response = login(manager).get(url(), query)

    assert response.status_code == 200
    assert response.context["result"] is None
    assert message in response.content.decode()


def test_another_organisations_team_is_not_a_choice(fleet, globex, manager, login):
    with scopes_disabled():
        other = TeamFactory(organization=globex, name="Globex team")
    response = login(manager).get(url(), {**MARCH_QUERY, "team": other.pk})
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_dashboards_get_404(acme, make_member, login, role):
    user = make_member(acme, role).user
    assert login(user).get(url()).status_code == 404


def test_another_organisation_gets_404(acme, stranger, login):
    assert login(stranger).get(url()).status_code == 404
