"""taxonomy.assessment: objective answers in, the strongest level whose criteria they meet out,
with the reasons a responder reads on the declare form and the timeline."""

from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from taxonomy.assessment import Answers, propose_severity
from taxonomy.defaults import DEFAULT_SEVERITIES
from taxonomy.models import SeverityLevel


def default_levels() -> list[SeverityLevel]:
    return [SeverityLevel(**spec) for spec in DEFAULT_SEVERITIES]


def propose(**answers):
    return propose_severity(default_levels(), Answers(**answers))


def test_customer_visible_8_percent_and_20_minutes_is_sev2_with_its_reasons():
    proposal = propose(customer_visible=True, users_affected_pct=Decimal(8), downtime_minutes=20)

    assert proposal.severity.name == "SEV-2"
    assert proposal.reasons == ["customer-visible", "8 % of users", "≥ 15 min downtime"]
    assert proposal.text == "SEV-2: customer-visible, 8 % of users, ≥ 15 min downtime"


def test_when_nothing_is_met_the_weakest_level_is_proposed():
    proposal = propose()

    assert proposal.severity.name == "SEV-4"
    assert proposal.reasons == []
    assert proposal.text == "SEV-4: no criterion of a stronger level is met"


def test_customer_visible_data_at_risk_is_sev1():
    proposal = propose(customer_visible=True, data_at_risk=True)

    assert proposal.severity.name == "SEV-1"
    assert proposal.reasons == ["customer-visible", "data at risk"]


def test_customer_visible_regulatory_exposure_is_sev1():
    proposal = propose(customer_visible=True, regulatory_exposure=True)

    assert proposal.severity.name == "SEV-1"
    assert proposal.reasons == ["customer-visible", "regulatory exposure"]


def test_customer_visible_revenue_at_risk_is_sev2():
    proposal = propose(customer_visible=True, revenue_at_risk=True)

    assert proposal.severity.name == "SEV-2"
    assert proposal.reasons == ["customer-visible", "revenue at risk"]


def test_half_the_users_but_not_customer_visible_is_sev3_under_the_defaults():
    proposal = propose(customer_visible=False, users_affected_pct=Decimal(50))

    assert proposal.severity.name == "SEV-3"
    assert proposal.reasons == ["50 % of users"]


def test_long_internal_downtime_is_sev3():
    proposal = propose(downtime_minutes=240)

    assert proposal.severity.name == "SEV-3"
    assert proposal.reasons == ["≥ 5 min downtime"]


def test_revenue_at_risk_that_customers_cannot_see_proposes_no_customer_level():
    proposal = propose(revenue_at_risk=True)

    assert proposal.severity.name == "SEV-4"


@pytest.mark.parametrize(
    ("pct", "expected", "reason"),
    [
        (Decimal(25), "SEV-1", "25 % of users"),
        (Decimal("24.99"), "SEV-2", "24.99 % of users"),
        (Decimal(5), "SEV-2", "5 % of users"),
        (Decimal("4.50"), "SEV-3", "4.5 % of users"),
        (Decimal("0.5"), "SEV-4", None),
    ],
)
def test_user_thresholds_are_inclusive_and_percentages_read_naturally(pct, expected, reason):
    proposal = propose(customer_visible=True, users_affected_pct=pct)

    assert proposal.severity.name == expected
    assert proposal.reasons[-1:] == ([reason] if reason else [])


def test_the_strongest_level_wins_whatever_order_the_levels_come_in():
    levels = list(reversed(default_levels()))

    proposal = propose_severity(
        levels, Answers(customer_visible=True, users_affected_pct=Decimal(30))
    )

    assert proposal.severity.name == "SEV-1"
    assert proposal.reasons == ["customer-visible", "30 % of users"]


def test_an_organisation_without_levels_gets_no_proposal():
    assert propose_severity([], Answers(customer_visible=True)) is None


def test_an_organisations_own_criteria_apply():
    levels = [
        SeverityLevel(level=1, name="P1", on_data_at_risk=True),
        SeverityLevel(level=2, name="P2", min_downtime_minutes=1),
    ]

    proposal = propose_severity(levels, Answers(data_at_risk=True, downtime_minutes=3))

    assert proposal.severity.name == "P1"
    assert proposal.reasons == ["data at risk"]


def test_answers_are_stored_as_json_friendly_values():
    answers = Answers(customer_visible=True, users_affected_pct=Decimal("12.5"))

    assert answers.as_dict() == {
        "customer_visible": True,
        "users_affected_pct": "12.5",
        "downtime_minutes": 0,
        "revenue_at_risk": False,
        "data_at_risk": False,
        "regulatory_exposure": False,
    }


@pytest.mark.django_db
def test_a_new_organisations_seeded_levels_give_the_same_proposal(acme):
    with scopes_disabled():
        levels = list(SeverityLevel.objects.filter(organization=acme))

    proposal = propose_severity(
        levels,
        Answers(customer_visible=True, users_affected_pct=Decimal(8), downtime_minutes=20),
    )

    assert [lvl.name for lvl in levels] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert proposal.severity.name == "SEV-2"
    assert proposal.severity.organization_id == acme.pk
