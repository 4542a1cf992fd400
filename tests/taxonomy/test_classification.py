"""taxonomy.classification: ordered static rules matched on text, service and source labels;
the first active match wins and says what it sets."""

import pytest
from django.core.exceptions import ValidationError

from taxonomy.classification import classify_static, rule_matches
from taxonomy.models import Category, ClassificationRule, SeverityLevel

DATABASE = Category(pk=1, name="Database")
NETWORK = Category(pk=2, name="Network")
SEV2 = SeverityLevel(pk=2, level=2, name="SEV-2")


def rule(pk=None, **kwargs) -> ClassificationRule:
    kwargs.setdefault("name", f"Rule {pk}")
    return ClassificationRule(pk=pk, **kwargs)


def matches(candidate, text="", service_id=None, labels=None) -> bool:
    return rule_matches(candidate, text=text, service_id=service_id, labels=labels or {})


def test_every_word_must_appear_in_any_order_ignoring_case():
    postgres_down = rule(match_text="Postgres DOWN")

    assert matches(postgres_down, text="Primary down\nPostgres replica lagging")
    assert not matches(postgres_down, text="Postgres slow")


def test_a_service_condition_needs_that_service():
    on_service = rule(match_service_id=5)

    assert matches(on_service, service_id=5)
    assert not matches(on_service, service_id=6)
    assert not matches(on_service, service_id=None)


def test_every_label_must_match_compared_as_text():
    prod_errors = rule(match_labels={"env": "prod", "code": "500"})

    assert matches(prod_errors, labels={"env": "prod", "code": 500, "extra": "x"})
    assert not matches(prod_errors, labels={"env": "prod"})
    assert not matches(prod_errors, labels={"env": "staging", "code": "500"})


def test_all_conditions_of_a_rule_must_hold():
    strict = rule(match_text="timeout", match_service_id=5, match_labels={"env": "prod"})

    assert matches(strict, text="Timeout", service_id=5, labels={"env": "prod"})
    assert not matches(strict, text="Timeout", service_id=5, labels={"env": "dev"})
    assert not matches(strict, text="Slow", service_id=5, labels={"env": "prod"})
    assert not matches(strict, text="Timeout", service_id=4, labels={"env": "prod"})


def test_the_rule_with_the_lowest_position_wins_whatever_the_list_order():
    late = rule(pk=1, position=50, match_text="down", set_category=NETWORK)
    early = rule(pk=2, position=10, match_text="down", set_category=DATABASE)

    match = classify_static([late, early], text="Everything is down")

    assert match.rule is early
    assert match.category is DATABASE


def test_on_equal_positions_the_older_rule_wins():
    newer = rule(pk=9, position=10, match_text="down", set_category=NETWORK)
    older = rule(pk=3, position=10, match_text="down", set_category=DATABASE)

    match = classify_static([newer, older], text="down")

    assert match.rule is older


def test_a_rule_that_does_not_match_lets_the_next_one_decide():
    first = rule(pk=1, position=1, match_text="postgres", set_category=DATABASE)
    second = rule(pk=2, position=2, match_labels={"team": "net"}, set_category=NETWORK)

    match = classify_static([first, second], text="Packet loss", labels={"team": "net"})

    assert match.rule is second


def test_inactive_rules_are_skipped():
    inactive = rule(pk=1, position=1, match_text="down", set_category=DATABASE, is_active=False)
    active = rule(pk=2, position=2, match_text="down", set_category=NETWORK)

    match = classify_static([inactive, active], text="down")

    assert match.rule is active


def test_no_matching_rule_gives_none():
    assert classify_static([rule(pk=1, match_text="postgres")], text="Packet loss") is None
    assert classify_static([], text="anything") is None


def test_a_match_says_what_the_rule_sets():
    postgres = rule(pk=1, name="Postgres", match_text="postgres", set_category=DATABASE)
    postgres.set_severity = SEV2

    match = classify_static([postgres], text="postgres down", labels=None)

    assert (match.category, match.severity, match.service, match.team) == (
        DATABASE,
        SEV2,
        None,
        None,
    )
    assert match.explanation == "Rule “Postgres” sets category Database, severity SEV-2"


def test_a_rule_without_any_condition_is_refused():
    unconditional = rule(name="Everything", set_category=DATABASE)

    with pytest.raises(ValidationError, match="at least one condition"):
        unconditional.clean()


def test_a_rule_that_sets_nothing_is_refused():
    idle = rule(name="Idle", match_text="down")

    with pytest.raises(ValidationError, match="must set at least one"):
        idle.clean()


def test_rule_labels_must_be_strings():
    numeric = rule(name="Numeric", match_labels={"code": 500}, set_category=DATABASE)

    with pytest.raises(ValidationError) as refused:
        numeric.clean()

    assert list(refused.value.message_dict) == ["match_labels"]
