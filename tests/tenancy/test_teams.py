"""Team management: admins create, edit and delete teams of their own members."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from tenancy.models import Team
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name, **kwargs):
    return reverse(f"tenancy:{name}", kwargs={"org_slug": "acme", **kwargs})


def team_names(org):
    with scopes_disabled():
        return sorted(Team.objects.filter(organization=org).values_list("name", flat=True))


def test_admin_creates_a_team_with_members(acme_admin, make_member, login):
    responder = make_member(acme_admin.organization, Role.RESPONDER)
    response = login(acme_admin.user).post(
        url("team_create"),
        {"name": "Payments", "description": "Card flows", "members": [responder.user.pk]},
    )
    assert response.status_code == 302
    with scopes_disabled():
        team = Team.objects.get(organization=acme_admin.organization)
    assert team.name == "Payments"
    assert list(team.members.all()) == [responder.user]


def test_team_list_shows_teams_or_an_empty_state(acme_admin, login):
    client = login(acme_admin.user)
    empty = client.get(url("team_list"))
    assert b"No teams yet" in empty.content
    TeamFactory(organization=acme_admin.organization, name="Platform")
    assert b"Platform" in client.get(url("team_list")).content


def test_a_stranger_cannot_be_added_to_a_team(acme_admin, globex_admin, login):
    response = login(acme_admin.user).post(
        url("team_create"), {"name": "Payments", "members": [globex_admin.user.pk]}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert team_names(acme_admin.organization) == []


def test_team_names_are_unique_per_organisation_ignoring_case(acme_admin, globex, login):
    TeamFactory(organization=acme_admin.organization, name="Platform")
    TeamFactory(organization=globex, name="Payments")
    client = login(acme_admin.user)
    response = client.post(url("team_create"), {"name": "platform"})
    assert b"already a team called" in response.content
    assert client.post(url("team_create"), {"name": "Payments"}).status_code == 302
    assert team_names(acme_admin.organization) == ["Payments", "Platform"]


def test_an_empty_name_is_refused(acme_admin, login):
    response = login(acme_admin.user).post(url("team_create"), {"name": "  "})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert team_names(acme_admin.organization) == []


def test_admin_renames_and_deletes_a_team(acme_admin, login):
    team = TeamFactory(organization=acme_admin.organization, name="Platform")
    client = login(acme_admin.user)
    assert client.post(url("team_update", pk=team.pk), {"name": "Core"}).status_code == 302
    assert team_names(acme_admin.organization) == ["Core"]
    assert client.post(url("team_delete", pk=team.pk)).status_code == 302
    assert team_names(acme_admin.organization) == []


def test_another_orgs_team_is_404(acme_admin, globex, login):
    team = TeamFactory(organization=globex, name="Grid")
    client = login(acme_admin.user)
    assert client.get(url("team_update", pk=team.pk)).status_code == 404
    assert client.post(url("team_delete", pk=team.pk)).status_code == 404
    assert team_names(globex) == ["Grid"]


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_may_not_manage_teams_and_nothing_changes(acme, make_member, login, role):
    team = TeamFactory(organization=acme, name="Platform")
    client = login(make_member(acme, role).user)
    assert client.get(url("team_list")).status_code == 403
    assert client.post(url("team_create"), {"name": "New"}).status_code == 403
    assert client.post(url("team_update", pk=team.pk), {"name": "Renamed"}).status_code == 403
    assert client.post(url("team_delete", pk=team.pk)).status_code == 403
    assert team_names(acme) == ["Platform"]


def test_team_membership_changes_are_audited(acme_admin, make_member, login):
    from tenancy.models import AuditEntry

    team = TeamFactory(organization=acme_admin.organization, name="Platform")
    member = make_member(acme_admin.organization, Role.RESPONDER)
    login(acme_admin.user).post(
        url("team_update", pk=team.pk), {"name": "Platform", "members": [member.user.pk]}
    )
    with scopes_disabled():
        entry = AuditEntry.objects.filter(object_pk=str(team.pk)).latest("timestamp")
    assert entry.changes["members"]["operation"] == "add"
    assert entry.changes["members"]["objects"] == [str(member.user)]
    assert entry.actor == acme_admin.user


def test_a_team_still_used_by_an_incident_is_not_deleted(acme_admin, login):
    from incidents import services as incident_services
    from taxonomy.models import SeverityLevel
    from tenancy.scoping import org_scope

    team = TeamFactory(organization=acme_admin.organization, name="Platform")
    with org_scope(acme_admin.organization):
        incident_services.incident_create(
            organization=acme_admin.organization,
            actor=acme_admin.user,
            title="Disk full",
            severity=SeverityLevel.objects.get(level=3),
            owning_team=team,
        )
    response = login(acme_admin.user).post(url("team_delete", pk=team.pk), follow=True)
    assert "is still used by incidents" in response.content.decode()
    assert team_names(acme_admin.organization) == ["Platform"]
