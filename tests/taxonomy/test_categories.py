"""Categories: admins create, rename, nest one level, deactivate, and delete unused ones."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from taxonomy import services
from taxonomy.models import Category, ClassificationRule, EscalationPath, SeverityLevel
from tenancy.roles import Role

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]
DEFAULTS = ["Application", "Database", "Infrastructure", "Network", "Security", "Third-party"]


def url(name, **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": "acme", **kwargs})


def names(org):
    with scopes_disabled():
        return sorted(Category.objects.filter(organization=org).values_list("name", flat=True))


def category(org, name):
    with scopes_disabled():
        return Category.objects.select_related("parent").get(organization=org, name=name)


def test_admin_creates_a_sub_category(acme_admin, login):
    acme = acme_admin.organization
    response = login(acme_admin.user).post(
        url("category_create"),
        {
            "name": "DNS",
            "parent": category(acme, "Network").pk,
            "description": "Resolvers",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.redirect_chain == [(url("category_list"), 302)]
    assert "Category “DNS” saved." in response.content.decode()
    dns = category(acme, "DNS")
    assert (dns.parent.name, dns.description, dns.is_active) == ("Network", "Resolvers", True)


def test_the_list_shows_sub_categories_under_their_parent(acme_admin, login):
    acme = acme_admin.organization
    Category.objects.create(organization=acme, name="DNS", parent=category(acme, "Network"))
    content = login(acme_admin.user).get(url("category_list")).content.decode()
    assert content.index("Network") < content.index("DNS") < content.index("Security")
    assert "Sub-category: </span>" in content


def test_the_list_has_an_empty_state_that_leads_to_the_form(acme_admin, login):
    with scopes_disabled():
        Category.objects.filter(organization=acme_admin.organization).delete()
    content = login(acme_admin.user).get(url("category_list")).content.decode()
    assert "No categories yet" in content
    assert f'href="{url("category_create")}"' in content


def test_admin_renames_and_deactivates_a_category(acme_admin, login):
    """An unticked "Active" box deactivates: the category stays on past incidents."""
    network = category(acme_admin.organization, "Network")
    response = login(acme_admin.user).post(
        url("category_update", pk=network.pk), {"name": "Networking", "description": "LAN"}
    )
    assert response.status_code == 302
    network.refresh_from_db()
    assert (network.name, network.description, network.is_active) == ("Networking", "LAN", False)


def test_parent_choices_are_this_organisations_top_level_categories(acme_admin, globex, login):
    acme = acme_admin.organization
    Category.objects.create(organization=acme, name="DNS", parent=category(acme, "Network"))
    network = category(acme, "Network")
    form = login(acme_admin.user).get(url("category_update", pk=network.pk)).context["form"]
    with scopes_disabled():
        offered = sorted(c.name for c in form.fields["parent"].queryset)
    assert offered == [name for name in DEFAULTS if name != "Network"]


def test_a_sub_category_cannot_be_a_parent(acme_admin, login):
    acme = acme_admin.organization
    dns = Category.objects.create(organization=acme, name="DNS", parent=category(acme, "Network"))
    response = login(acme_admin.user).post(
        url("category_create"), {"name": "Resolvers", "parent": dns.pk}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert "Resolvers" not in names(acme)


def test_a_category_with_sub_categories_cannot_get_a_parent(acme_admin, login):
    acme = acme_admin.organization
    Category.objects.create(organization=acme, name="DNS", parent=category(acme, "Network"))
    network = category(acme, "Network")
    response = login(acme_admin.user).post(
        url("category_update", pk=network.pk),
        {"name": "Network", "parent": category(acme, "Infrastructure").pk, "is_active": "on"},
    )
    assert response.status_code == 200
    assert b"has sub-categories of its own" in response.content
    assert category(acme, "Network").parent is None


def test_another_organisations_category_is_not_a_valid_parent(acme_admin, globex, login):
    response = login(acme_admin.user).post(
        url("category_create"), {"name": "DNS", "parent": category(globex, "Network").pk}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert names(acme_admin.organization) == DEFAULTS


def test_names_are_unique_per_organisation_ignoring_case(acme_admin, globex, login):
    Category.objects.create(organization=globex, name="Storage")
    client = login(acme_admin.user)
    response = client.post(url("category_create"), {"name": "  nEtWoRk ", "description": "x"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "There is already a category called “nEtWoRk”." in content
    assert 'value="  nEtWoRk "' in content
    assert client.post(url("category_create"), {"name": "Storage"}).status_code == 302
    assert names(acme_admin.organization) == sorted([*DEFAULTS, "Storage"])


def test_an_empty_name_is_refused(acme_admin, login):
    response = login(acme_admin.user).post(url("category_create"), {"name": "   "})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert names(acme_admin.organization) == DEFAULTS


def test_admin_deletes_an_unused_category(acme_admin, login):
    security = category(acme_admin.organization, "Security")
    response = login(acme_admin.user).post(url("category_delete", pk=security.pk), follow=True)
    assert response.redirect_chain == [(url("category_list"), 302)]
    assert "Category “Security” deleted." in response.content.decode()
    assert "Security" not in names(acme_admin.organization)


def test_a_category_in_use_is_not_deleted_and_the_admin_is_told_to_deactivate_it(acme_admin, login):
    acme = acme_admin.organization
    network = category(acme, "Network")
    with scopes_disabled():
        severity = SeverityLevel.objects.get(organization=acme, level=1)
    EscalationPath.objects.create(
        organization=acme, name="Net", severity=severity, category=network
    )
    ClassificationRule.objects.create(
        organization=acme, name="DNS", match_text="dns", set_category=network
    )
    Category.objects.create(organization=acme, name="DNS", parent=network)
    response = login(acme_admin.user).post(url("category_delete", pk=network.pk), follow=True)
    assert response.redirect_chain == [(url("category_update", pk=network.pk), 302)]
    assert (
        "“Network” is in use (1 sub-category, 1 escalation path, 1 classification rule): "
        "deactivate it instead." in response.content.decode()
    )
    assert "Network" in names(acme)
    with scopes_disabled():
        assert ClassificationRule.objects.filter(organization=acme).count() == 1


def test_a_protected_reference_the_usage_check_misses_still_refuses_the_delete(
    acme_admin, login, monkeypatch
):
    """The database's ProtectedError is caught and said in words, not a 500."""
    acme = acme_admin.organization
    network = category(acme, "Network")
    with scopes_disabled():
        severity = SeverityLevel.objects.get(organization=acme, level=1)
    EscalationPath.objects.create(
        organization=acme, name="Net", severity=severity, category=network
    )
    monkeypatch.setattr(services, "usage_of", lambda instance, owned=(): [])
    response = login(acme_admin.user).post(url("category_delete", pk=network.pk), follow=True)
    assert "“Network” is in use: deactivate it instead." in response.content.decode()
    assert "Network" in names(acme)


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_nothing_changes(acme, make_member, login, role):
    network = category(acme, "Network")
    client = login(make_member(acme, role).user)
    assert client.get(url("category_list")).status_code == 403
    assert client.post(url("category_create"), {"name": "Storage"}).status_code == 403
    assert client.post(url("category_update", pk=network.pk), {"name": "X"}).status_code == 403
    assert client.post(url("category_delete", pk=network.pk)).status_code == 403
    assert names(acme) == DEFAULTS


def test_another_organisations_admin_gets_404_for_pages_and_rows(acme, globex_admin, login):
    network = category(acme, "Network")
    client = login(globex_admin.user)
    assert client.get(url("category_list")).status_code == 404
    assert client.post(url("category_create"), {"name": "Storage"}).status_code == 404
    assert client.get(url("category_update", pk=network.pk)).status_code == 404
    assert client.post(url("category_delete", pk=network.pk)).status_code == 404
    assert names(acme) == DEFAULTS


def test_another_organisations_category_pk_is_404_for_this_admin(acme_admin, globex, login):
    theirs = category(globex, "Network")
    client = login(acme_admin.user)
    assert client.get(url("category_update", pk=theirs.pk)).status_code == 404
    assert client.post(url("category_update", pk=theirs.pk), {"name": "Mine"}).status_code == 404
    assert client.post(url("category_delete", pk=theirs.pk)).status_code == 404
    assert names(globex) == DEFAULTS
