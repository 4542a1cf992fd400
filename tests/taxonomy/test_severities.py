"""Severity levels: admins edit the name, description and objective criteria of the seeded
levels; levels are neither created nor deleted in the UI."""

from decimal import Decimal

import pytest
from django.urls import NoReverseMatch, reverse
from django_scopes import scopes_disabled

from taxonomy.models import SeverityLevel
from tenancy.roles import Role

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]
CRITERIA = [
    "requires_customer_visible",
    "min_users_affected_pct",
    "min_downtime_minutes",
    "on_revenue_at_risk",
    "on_data_at_risk",
    "on_regulatory_exposure",
]


def url(name, **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme", **kwargs})


def level(org, number):
    with scopes_disabled():
        return SeverityLevel.objects.get(organization=org, level=number)


def levels(org):
    with scopes_disabled():
        return list(
            SeverityLevel.objects.filter(organization=org)
            .order_by("level")
            .values_list("level", "name", "description", *CRITERIA)
        )


def test_the_list_summarises_each_levels_criteria(acme_admin, login):
    content = login(acme_admin.user).get(url("severity_list")).content.decode()
    assert (
        "Customer-visible and any of: ≥ 25 % of users affected; ≥ 60 min downtime; data at risk; "
        "regulatory exposure." in content
    )
    assert "Any of: ≥ 1 % of users affected; ≥ 5 min downtime." in content
    assert "Proposed when no stronger level applies." in content


def test_admin_edits_a_levels_name_description_and_criteria(acme_admin, login):
    acme = acme_admin.organization
    sev2 = level(acme, 2)
    response = login(acme_admin.user).post(
        url("severity_update", pk=sev2.pk),
        {
            "name": "Major",
            "description": "Customers notice.",
            "min_users_affected_pct": "10.5",
            "min_downtime_minutes": "",
            "on_data_at_risk": "on",
        },
        follow=True,
    )
    assert response.redirect_chain == [(url("severity_list"), 302)]
    assert "Severity level “Major” saved." in response.content.decode()
    assert levels(acme)[1] == (
        2,
        "Major",
        "Customers notice.",
        False,
        Decimal("10.50"),
        None,
        False,
        True,
        False,
    )


def test_levels_are_edited_only_never_created_or_deleted_in_the_ui():
    for name in ("severity_create", "severity_delete"):
        with pytest.raises(NoReverseMatch):
            reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme"})


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("min_downtime_minutes", "-5", "Ensure this value is greater than or equal to 0."),
        ("min_users_affected_pct", "101", "Ensure this value is less than or equal to 100."),
        ("min_users_affected_pct", "-1", "Ensure this value is greater than or equal to 0."),
        ("name", "", "This field is required."),
    ],
)
def test_bad_criteria_are_refused_and_nothing_is_saved(acme_admin, login, field, value, error):
    acme = acme_admin.organization
    before = levels(acme)
    response = login(acme_admin.user).post(
        url("severity_update", pk=level(acme, 3).pk), {"name": "SEV-3", field: value}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert levels(acme) == before


def test_two_levels_cannot_share_a_name_ignoring_case(acme_admin, login):
    acme = acme_admin.organization
    before = levels(acme)
    response = login(acme_admin.user).post(
        url("severity_update", pk=level(acme, 3).pk), {"name": "sev-1"}
    )
    assert response.status_code == 200
    assert "There is already a severity level called “sev-1”." in response.content.decode()
    assert levels(acme) == before


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_nothing_changes(acme, make_member, login, role):
    before = levels(acme)
    client = login(make_member(acme, role).user)
    sev1 = level(acme, 1)
    assert client.get(url("severity_list")).status_code == 403
    assert client.get(url("severity_update", pk=sev1.pk)).status_code == 403
    assert client.post(url("severity_update", pk=sev1.pk), {"name": "Minor"}).status_code == 403
    assert levels(acme) == before


def test_another_organisations_admin_gets_404_for_pages_and_rows(acme, globex_admin, login):
    before = levels(acme)
    client = login(globex_admin.user)
    sev1 = level(acme, 1)
    assert client.get(url("severity_list")).status_code == 404
    assert client.post(url("severity_update", pk=sev1.pk), {"name": "Minor"}).status_code == 404
    assert levels(acme) == before


def test_another_organisations_level_pk_is_404_for_this_admin(acme_admin, globex, login):
    before = levels(globex)
    theirs = level(globex, 1)
    client = login(acme_admin.user)
    assert client.get(url("severity_update", pk=theirs.pk)).status_code == 404
    assert client.post(url("severity_update", pk=theirs.pk), {"name": "Mine"}).status_code == 404
    assert levels(globex) == before
