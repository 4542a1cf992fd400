"""Classification rules: ordered, with text/service/label conditions and what they set; and a
"try it" form that shows which rule would match, writing nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from taxonomy.models import Category, ClassificationRule, Service, SeverityLevel
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name, **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme", **kwargs})


def level(org, number):
    with scopes_disabled():
        return SeverityLevel.objects.get(organization=org, level=number)


def category(org, name):
    with scopes_disabled():
        return Category.objects.get(organization=org, name=name)


def rules(org):
    with scopes_disabled():
        return list(
            ClassificationRule.objects.filter(organization=org).values_list(
                "name",
                "position",
                "is_active",
                "match_text",
                "match_labels",
                "set_category__name",
                "set_severity__name",
            )
        )


def make_rule(org, name="Database words", **fields):
    fields.setdefault("match_text", "database")
    fields.setdefault("set_category", category(org, "Database"))
    return ClassificationRule.objects.create(organization=org, name=name, **fields)


def rule_post(org, **overrides):
    data = {
        "name": "Database words",
        "position": "10",
        "is_active": "on",
        "match_text": "database",
        "match_labels": "",
        "set_category": category(org, "Database").pk,
    }
    return {**data, **overrides}


def test_admin_creates_a_rule_with_labels(acme_admin, login):
    acme = acme_admin.organization
    response = login(acme_admin.user).post(
        url("rule_create"),
        rule_post(
            acme, match_labels='{"env": "prod", "team": "db"}', set_severity=level(acme, 2).pk
        ),
        follow=True,
    )
    assert response.redirect_chain == [(url("rule_list"), 302)]
    assert "Rule “Database words” saved." in response.content.decode()
    assert rules(acme) == [
        (
            "Database words",
            10,
            True,
            "database",
            {"env": "prod", "team": "db"},
            "Database",
            "SEV-2",
        )
    ]


def test_admin_edits_a_rule_and_its_labels_show_as_json(acme_admin, login):
    acme = acme_admin.organization
    rule = make_rule(acme, match_labels={"env": "prod"})
    client = login(acme_admin.user)
    form_page = client.get(url("rule_update", pk=rule.pk)).content.decode()
    assert "{&quot;env&quot;: &quot;prod&quot;}</textarea>" in form_page
    response = client.post(
        url("rule_update", pk=rule.pk),
        rule_post(acme, name="DB", position="5", match_labels="", is_active=""),
    )
    assert response.status_code == 302
    assert rules(acme) == [("DB", 5, False, "database", {}, "Database", None)]


def test_the_list_shows_rules_in_the_order_they_are_tried(acme_admin, login):
    acme = acme_admin.organization
    make_rule(acme, name="Second", position=20)
    make_rule(acme, name="First", position=10, match_labels={"env": "prod"})
    content = login(acme_admin.user).get(url("rule_list")).content.decode()
    assert content.index("First") < content.index("Second")
    assert "label <code>env=prod</code>" in content
    assert "text contains “database”" in content


def test_the_list_has_an_empty_state_that_leads_to_the_form(acme_admin, login):
    content = login(acme_admin.user).get(url("rule_list")).content.decode()
    assert "No classification rules yet" in content
    assert f'href="{url("rule_create")}"' in content


def test_the_list_runs_a_constant_number_of_queries(
    acme_admin, login, django_assert_max_num_queries
):
    acme = acme_admin.organization
    team = TeamFactory(organization=acme, name="Payments")
    service = Service.objects.create(organization=acme, name="Checkout")
    sub = Category.objects.create(organization=acme, name="DNS", parent=category(acme, "Network"))

    def add_rule(n):
        make_rule(
            acme,
            name=f"Rule {n}",
            position=n,
            match_service=service,
            set_category=sub,
            set_severity=level(acme, 1 + n % 4),
            set_service=service,
            set_team=team,
        )

    add_rule(0)
    client = login(acme_admin.user)
    with CaptureQueriesContext(connection) as one_row:
        client.get(url("rule_list"))
    for n in range(1, 30):
        add_rule(n)
    with django_assert_max_num_queries(len(one_row.captured_queries)):
        response = client.get(url("rule_list"))
    assert response.content.decode().count('data-label="Rule"') == 30
    assert "category Network › DNS" in response.content.decode()


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ('{"env": prod}', "This is not valid JSON (Expecting value at line 1, column 9)."),
        ('{"env": "prod",}', "This is not valid JSON"),
        ('{"attempts": 3}', "Label values must be strings: “attempts” is 3."),
        ('{"env": null}', "Label values must be strings: “env” is null."),
        ('["env", "prod"]', "Labels are a JSON object of name: value pairs"),
    ],
)
def test_bad_labels_are_refused_with_a_clear_error_and_kept(acme_admin, login, labels, error):
    acme = acme_admin.organization
    response = login(acme_admin.user).post(url("rule_create"), rule_post(acme, match_labels=labels))
    assert response.status_code == 200
    content = response.content.decode()
    assert error in content
    assert rules(acme) == []


def test_invalid_json_stays_in_the_text_area_and_is_the_only_complaint(acme_admin, login):
    """Labels are the rule's only condition here: unreadable labels are not "no condition"."""
    acme = acme_admin.organization
    response = login(acme_admin.user).post(
        url("rule_create"), rule_post(acme, match_text="", match_labels='{"env": prod}')
    )
    content = response.content.decode()
    assert "{&quot;env&quot;: prod}</textarea>" in content
    assert "This is not valid JSON" in content
    assert "A rule needs at least one condition" not in content


def test_a_rule_needs_a_condition_and_something_to_set(acme_admin, login):
    acme = acme_admin.organization
    client = login(acme_admin.user)
    no_condition = client.post(url("rule_create"), rule_post(acme, match_text=""))
    no_effect = client.post(url("rule_create"), rule_post(acme, set_category=""))
    assert "A rule needs at least one condition" in no_condition.content.decode()
    assert "A rule must set at least one of" in no_effect.content.decode()
    assert rules(acme) == []


def test_names_are_unique_ignoring_case_and_may_not_be_empty(acme_admin, login):
    acme = acme_admin.organization
    make_rule(acme)
    client = login(acme_admin.user)
    same = client.post(url("rule_create"), rule_post(acme, name="DATABASE WORDS"))
    empty = client.post(url("rule_create"), rule_post(acme, name=" "))
    assert "There is already a rule called “DATABASE WORDS”." in same.content.decode()
    assert b"This field is required." in empty.content
    assert len(rules(acme)) == 1


@pytest.mark.parametrize(
    "field", ["match_service", "set_category", "set_severity", "set_service", "set_team"]
)
def test_another_organisations_rows_are_not_valid_choices(acme_admin, globex, login, field):
    theirs = {
        "match_service": lambda: Service.objects.create(organization=globex, name="Billing"),
        "set_category": lambda: category(globex, "Network"),
        "set_severity": lambda: level(globex, 1),
        "set_service": lambda: Service.objects.create(organization=globex, name="Billing"),
        "set_team": lambda: TeamFactory(organization=globex),
    }[field]()
    response = login(acme_admin.user).post(
        url("rule_create"), rule_post(acme_admin.organization, **{field: theirs.pk})
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert rules(acme_admin.organization) == []


def test_admin_deletes_a_rule(acme_admin, login):
    rule = make_rule(acme_admin.organization)
    response = login(acme_admin.user).post(url("rule_delete", pk=rule.pk), follow=True)
    assert "Rule “Database words” deleted." in response.content.decode()
    assert rules(acme_admin.organization) == []


def test_try_it_shows_the_first_matching_rule_and_what_it_sets(acme_admin, login):
    acme = acme_admin.organization
    make_rule(acme, name="Late", position=50, match_text="replica")
    make_rule(acme, name="Inactive", position=1, match_text="replica", is_active=False)
    make_rule(
        acme,
        name="Replica lag",
        position=10,
        match_text="replica lag",
        set_severity=level(acme, 2),
    )
    response = login(acme_admin.user).get(
        url("rule_list"), {"title": "Replica behind", "description": "Lag is 40 s"}
    )
    content = response.content.decode()
    assert "Replica lag</a>”</strong> (position 10) matches first." in content
    assert "<dt>Category</dt><dd>Database</dd>" in content
    assert '<dt>Severity</dt><dd><span class="sev sev-2">SEV-2</span></dd>' in content


def test_try_it_honours_the_service_and_labels_conditions(acme_admin, login):
    acme = acme_admin.organization
    checkout = Service.objects.create(organization=acme, name="Checkout")
    make_rule(
        acme,
        name="Checkout in prod",
        match_text="",
        match_service=checkout,
        match_labels={"env": "prod"},
    )
    client = login(acme_admin.user)
    staging = client.get(
        url("rule_list"),
        {"title": "Errors", "service": checkout.pk, "labels": '{"env": "staging"}'},
    )
    prod = client.get(
        url("rule_list"), {"title": "Errors", "service": checkout.pk, "labels": '{"env": "prod"}'}
    )
    assert "No active rule matches." in staging.content.decode()
    assert "Checkout in prod</a>”</strong> (position 100) matches first." in prod.content.decode()


def test_try_it_says_when_no_rule_matches_and_writes_nothing(acme_admin, login):
    acme = acme_admin.organization
    make_rule(acme)
    with scopes_disabled():
        audit_before = AuditEntry.objects.filter(organization=acme).count()
    response = login(acme_admin.user).get(url("rule_list"), {"title": "Checkout slow"})
    assert "No active rule matches." in response.content.decode()
    assert 'value="Checkout slow"' in response.content.decode()
    with scopes_disabled():
        assert AuditEntry.objects.filter(organization=acme).count() == audit_before
    assert len(rules(acme)) == 1


def test_try_it_refuses_bad_input_without_a_result(acme_admin, globex, login):
    theirs = Service.objects.create(organization=globex, name="Billing")
    response = login(acme_admin.user).get(
        url("rule_list"), {"title": "", "service": theirs.pk, "labels": "{oops"}
    )
    content = response.content.decode()
    assert "This field is required." in content
    assert "Select a valid choice" in content
    assert "This is not valid JSON" in content
    assert "The result appears here." in content


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_nothing_changes(acme, make_member, login, role):
    rule = make_rule(acme)
    before = rules(acme)
    client = login(make_member(acme, role).user)
    assert client.get(url("rule_list")).status_code == 403
    assert client.get(url("rule_list"), {"title": "database"}).status_code == 403
    assert client.post(url("rule_create"), rule_post(acme, name="New")).status_code == 403
    assert client.post(url("rule_update", pk=rule.pk), rule_post(acme, name="X")).status_code == 403
    assert client.post(url("rule_delete", pk=rule.pk)).status_code == 403
    assert rules(acme) == before


def test_another_organisations_admin_gets_404_for_pages_and_rows(acme, globex_admin, login):
    rule = make_rule(acme)
    before = rules(acme)
    client = login(globex_admin.user)
    assert client.get(url("rule_list"), {"title": "database"}).status_code == 404
    assert client.get(url("rule_update", pk=rule.pk)).status_code == 404
    assert client.post(url("rule_delete", pk=rule.pk)).status_code == 404
    assert rules(acme) == before


def test_another_organisations_rule_pk_is_404_for_this_admin(acme_admin, globex, login):
    theirs = make_rule(globex)
    before = rules(globex)
    client = login(acme_admin.user)
    assert client.get(url("rule_update", pk=theirs.pk)).status_code == 404
    assert client.post(url("rule_delete", pk=theirs.pk)).status_code == 404
    assert rules(globex) == before
