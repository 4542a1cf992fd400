"""The taxonomy overview: counts per section, and the organisation's classification settings."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from taxonomy.models import OrgSettings
from tenancy.roles import Role

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name="index", org="acme", **kwargs):
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": org, **kwargs})


def settings_of(org):
    with scopes_disabled():
        row = OrgSettings.objects.get(organization=org)
    return row.classification_mode, row.ownership_escalation_minutes


def test_the_overview_counts_each_section_and_links_to_it(acme_admin, login):
    response = login(acme_admin.user).get(url())
    assert response.status_code == 200
    content = response.content.decode()
    for name in (
        "category_list",
        "service_list",
        "severity_list",
        "escalation_path_list",
        "rule_list",
        "custom_field_list",
    ):
        assert f'href="{url(name)}"' in content
    assert '<span class="tax-count">6</span> <span class="tax-label">Categories</span>' in content
    assert (
        '<span class="tax-count">4</span> <span class="tax-label">Severity levels</span>' in content
    )


def test_the_overview_warns_about_severities_without_a_default_path(acme_admin, login):
    response = login(acme_admin.user).get(url())
    assert b"No default escalation path for" in response.content


def test_admin_changes_the_classification_settings(acme_admin, login):
    response = login(acme_admin.user).post(
        url(),
        {"classification_mode": "assisted", "ownership_escalation_minutes": "45"},
        follow=True,
    )
    assert response.redirect_chain == [(url(), 302)]
    assert "Classification settings saved." in response.content.decode()
    assert settings_of(acme_admin.organization) == ("assisted", 45)


@pytest.mark.parametrize(
    ("minutes", "error"),
    [
        ("-5", "greater than or equal to 0"),
        ("0", "greater than or equal to 1"),
        ("99999", "less than or equal to 10080"),
    ],
)
def test_bad_escalation_minutes_are_refused_and_nothing_is_saved(acme_admin, login, minutes, error):
    response = login(acme_admin.user).post(
        url(), {"classification_mode": "assisted", "ownership_escalation_minutes": minutes}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert f'value="{minutes}"' in response.content.decode()
    assert settings_of(acme_admin.organization) == ("static", 30)


def test_an_unknown_classification_mode_is_refused(acme_admin, login):
    response = login(acme_admin.user).post(
        url(), {"classification_mode": "magic", "ownership_escalation_minutes": "30"}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert settings_of(acme_admin.organization) == ("static", 30)


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_the_settings_stay(acme, make_member, login, role):
    client = login(make_member(acme, role).user)
    assert client.get(url()).status_code == 403
    response = client.post(
        url(), {"classification_mode": "assisted", "ownership_escalation_minutes": "45"}
    )
    assert response.status_code == 403
    assert settings_of(acme) == ("static", 30)


def test_another_organisations_admin_gets_404(acme, globex_admin, login):
    client = login(globex_admin.user)
    assert client.get(url()).status_code == 404
    response = client.post(
        url(), {"classification_mode": "assisted", "ownership_escalation_minutes": "45"}
    )
    assert response.status_code == 404
    assert settings_of(acme) == ("static", 30)
