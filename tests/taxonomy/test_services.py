"""Services: admins create and edit them with their tier and teams, deactivate them, and
delete unused ones."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from taxonomy.models import ClassificationRule, Service
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name, **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme", **kwargs})


def service_rows(org):
    with scopes_disabled():
        return list(
            Service.objects.filter(organization=org)
            .order_by("name")
            .values_list("name", "tier", "owning_team__name", "health_check_url", "is_active")
        )


def contributing(service):
    with scopes_disabled():
        return sorted(service.contributing_teams.values_list("name", flat=True))


def get_service(org, name):
    with scopes_disabled():
        return Service.objects.get(organization=org, name=name)


def test_admin_creates_a_service_with_its_teams(acme_admin, login):
    acme = acme_admin.organization
    payments, platform, security = (
        TeamFactory(organization=acme, name=n) for n in ("Payments", "Platform", "Security")
    )
    response = login(acme_admin.user).post(
        url("service_create"),
        {
            "name": "Checkout",
            "description": "Card checkout",
            "tier": "1",
            "owning_team": payments.pk,
            "contributing_teams": [platform.pk, security.pk],
            "health_check_url": "https://status.acme.test/checkout",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.redirect_chain == [(url("service_list"), 302)]
    assert "Service “Checkout” saved." in response.content.decode()
    assert service_rows(acme) == [
        ("Checkout", 1, "Payments", "https://status.acme.test/checkout", True)
    ]
    assert contributing(get_service(acme, "Checkout")) == ["Platform", "Security"]


def test_admin_edits_a_service_and_its_contributing_teams(acme_admin, login):
    acme = acme_admin.organization
    platform = TeamFactory(organization=acme, name="Platform")
    service = Service.objects.create(organization=acme, name="Ledger", tier=2)
    service.contributing_teams.add(platform)
    response = login(acme_admin.user).post(
        url("service_update", pk=service.pk), {"name": "General ledger", "tier": "3"}
    )
    assert response.status_code == 302
    assert service_rows(acme) == [("General ledger", 3, None, "", False)]
    assert contributing(service) == []


def test_the_list_shows_each_service_with_tier_and_teams(acme_admin, login):
    acme = acme_admin.organization
    payments = TeamFactory(organization=acme, name="Payments")
    service = Service.objects.create(
        organization=acme, name="Checkout", tier=1, owning_team=payments
    )
    service.contributing_teams.add(TeamFactory(organization=acme, name="Platform"))
    content = login(acme_admin.user).get(url("service_list")).content.decode()
    assert "Checkout" in content
    assert "Tier 1" in content
    assert "Payments" in content
    assert "Platform" in content


def test_the_list_has_an_empty_state_that_leads_to_the_form(acme_admin, login):
    content = login(acme_admin.user).get(url("service_list")).content.decode()
    assert "No services yet" in content
    assert f'href="{url("service_create")}"' in content


def test_the_list_runs_a_constant_number_of_queries(
    acme_admin, login, django_assert_max_num_queries
):
    acme = acme_admin.organization
    teams = [TeamFactory(organization=acme, name=f"Team {n}") for n in range(3)]
    client = login(acme_admin.user)
    first = Service.objects.create(organization=acme, name="Service 0", owning_team=teams[0])
    first.contributing_teams.add(*teams[1:])
    with CaptureQueriesContext(connection) as one_row:
        client.get(url("service_list"))
    for n in range(1, 30):
        service = Service.objects.create(
            organization=acme, name=f"Service {n}", owning_team=teams[n % 3]
        )
        service.contributing_teams.add(*teams[1:])
    with django_assert_max_num_queries(len(one_row.captured_queries)):
        response = client.get(url("service_list"))
    assert response.content.decode().count('data-label="Service"') == 30


@pytest.mark.parametrize(
    ("tier", "error"),
    [("7", "Select a valid choice. 7 is not one of the available choices."), ("", "required")],
)
def test_a_tier_outside_1_to_3_is_refused(acme_admin, login, tier, error):
    response = login(acme_admin.user).post(
        url("service_create"), {"name": "Checkout", "tier": tier}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert service_rows(acme_admin.organization) == []


def test_a_bad_health_check_url_is_refused(acme_admin, login):
    response = login(acme_admin.user).post(
        url("service_create"), {"name": "Checkout", "tier": "1", "health_check_url": "not a url"}
    )
    assert response.status_code == 200
    assert b"Enter a valid URL." in response.content
    assert service_rows(acme_admin.organization) == []


def test_names_are_unique_per_organisation_ignoring_case(acme_admin, globex, login):
    Service.objects.create(organization=acme_admin.organization, name="Checkout")
    Service.objects.create(organization=globex, name="Billing")
    client = login(acme_admin.user)
    response = client.post(url("service_create"), {"name": "CHECKOUT", "tier": "2"})
    assert response.status_code == 200
    assert "There is already a service called “CHECKOUT”." in response.content.decode()
    assert client.post(url("service_create"), {"name": "Billing", "tier": "2"}).status_code == 302
    assert [row[0] for row in service_rows(acme_admin.organization)] == ["Billing", "Checkout"]


def test_an_empty_name_is_refused(acme_admin, login):
    response = login(acme_admin.user).post(url("service_create"), {"name": " ", "tier": "2"})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert service_rows(acme_admin.organization) == []


def test_another_organisations_teams_are_not_valid_choices(acme_admin, globex, login):
    theirs = TeamFactory(organization=globex, name="Grid")
    client = login(acme_admin.user)
    owning = client.post(
        url("service_create"), {"name": "Checkout", "tier": "1", "owning_team": theirs.pk}
    )
    contributing_ = client.post(
        url("service_create"),
        {"name": "Checkout", "tier": "1", "contributing_teams": [theirs.pk]},
    )
    assert owning.status_code == contributing_.status_code == 200
    assert b"Select a valid choice" in owning.content
    assert b"Select a valid choice" in contributing_.content
    assert service_rows(acme_admin.organization) == []


def test_admin_deletes_an_unused_service(acme_admin, login):
    service = Service.objects.create(organization=acme_admin.organization, name="Checkout")
    response = login(acme_admin.user).post(url("service_delete", pk=service.pk), follow=True)
    assert "Service “Checkout” deleted." in response.content.decode()
    assert service_rows(acme_admin.organization) == []


def test_a_service_a_rule_refers_to_is_not_deleted(acme_admin, login):
    """Rules referring to a service would silently go with it (CASCADE): refuse instead."""
    acme = acme_admin.organization
    service = Service.objects.create(organization=acme, name="Checkout")
    ClassificationRule.objects.create(
        organization=acme, name="Checkout", match_service=service, set_service=service
    )
    response = login(acme_admin.user).post(url("service_delete", pk=service.pk), follow=True)
    assert response.redirect_chain == [(url("service_update", pk=service.pk), 302)]
    assert (
        "“Checkout” is in use (1 classification rule): deactivate it instead."
        in response.content.decode()
    )
    assert [row[0] for row in service_rows(acme)] == ["Checkout"]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_nothing_changes(acme, make_member, login, role):
    service = Service.objects.create(organization=acme, name="Checkout", tier=1)
    client = login(make_member(acme, role).user)
    assert client.get(url("service_list")).status_code == 403
    assert client.post(url("service_create"), {"name": "Ledger", "tier": "1"}).status_code == 403
    assert (
        client.post(url("service_update", pk=service.pk), {"name": "X", "tier": "3"}).status_code
        == 403
    )
    assert client.post(url("service_delete", pk=service.pk)).status_code == 403
    assert service_rows(acme) == [("Checkout", 1, None, "", True)]


def test_another_organisations_admin_gets_404_for_pages_and_rows(acme, globex_admin, login):
    service = Service.objects.create(organization=acme, name="Checkout", tier=1)
    client = login(globex_admin.user)
    assert client.get(url("service_list")).status_code == 404
    assert client.get(url("service_update", pk=service.pk)).status_code == 404
    assert client.post(url("service_delete", pk=service.pk)).status_code == 404
    assert service_rows(acme) == [("Checkout", 1, None, "", True)]


def test_another_organisations_service_pk_is_404_for_this_admin(acme_admin, globex, login):
    theirs = Service.objects.create(organization=globex, name="Billing", tier=2)
    client = login(acme_admin.user)
    assert client.get(url("service_update", pk=theirs.pk)).status_code == 404
    assert (
        client.post(url("service_update", pk=theirs.pk), {"name": "X", "tier": "1"}).status_code
        == 404
    )
    assert client.post(url("service_delete", pk=theirs.pk)).status_code == 404
    assert service_rows(globex) == [("Billing", 2, None, "", True)]
