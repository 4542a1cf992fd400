"""Org admin pages: members, roles, invitations — each refused for other roles, nothing changed."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from django_scopes import scopes_disabled

from tenancy.models import Invitation, Membership, User
from tenancy.roles import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


def url(name, **kwargs):
    return reverse(f"tenancy:{name}", kwargs={"org_slug": "acme", **kwargs})


def roles_in(org):
    with scopes_disabled():
        return dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))


def test_admin_sees_the_member_list(acme_admin, make_member, login):
    make_member(acme_admin.organization, Role.VIEWER, email="v@acme.test")
    response = login(acme_admin.user).get(url("member_list"))
    assert response.status_code == 200
    assert b"v@acme.test" in response.content
    assert b"admin@acme.test" in response.content


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_may_not_open_the_member_list(acme, make_member, login, role):
    member = make_member(acme, role)
    response = login(member.user).get(url("member_list"))
    assert response.status_code == 403


def test_admin_changes_a_role_and_it_is_audited(acme_admin, make_member, login):
    target = make_member(acme_admin.organization, Role.VIEWER, email="v@acme.test")
    response = login(acme_admin.user).post(url("member_role", pk=target.pk), {"role": "manager"})
    assert response.status_code == 302
    assert roles_in(acme_admin.organization)["v@acme.test"] == "manager"
    with scopes_disabled():
        from tenancy.models import AuditEntry

        entry = AuditEntry.objects.filter(
            organization=acme_admin.organization, object_pk=str(target.pk)
        ).latest("timestamp")
    assert entry.actor == acme_admin.user
    assert entry.changes["role"] == ["viewer", "manager"]
    assert entry.origin == "web"


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_may_not_change_roles_and_nothing_changes(acme, make_member, login, role):
    actor = make_member(acme, role)
    target = make_member(acme, Role.VIEWER, email="v@acme.test")
    response = login(actor.user).post(url("member_role", pk=target.pk), {"role": "admin"})
    assert response.status_code == 403
    assert roles_in(acme)["v@acme.test"] == "viewer"


def test_an_unknown_role_is_refused(acme_admin, make_member, login):
    target = make_member(acme_admin.organization, Role.VIEWER, email="v@acme.test")
    client = login(acme_admin.user)
    response = client.post(url("member_role", pk=target.pk), {"role": "owner"}, follow=True)
    assert b"Choose one of the roles." in response.content
    assert roles_in(acme_admin.organization)["v@acme.test"] == "viewer"


def test_the_last_admin_cannot_demote_or_remove_themselves(acme_admin, login):
    client = login(acme_admin.user)
    response = client.post(url("member_role", pk=acme_admin.pk), {"role": "viewer"}, follow=True)
    assert b"only admin" in response.content
    response = client.post(url("member_remove", pk=acme_admin.pk), follow=True)
    assert b"only admin" in response.content
    assert roles_in(acme_admin.organization) == {"admin@acme.test": "admin"}


def test_a_member_of_another_org_cannot_be_touched_through_this_org(
    acme_admin, globex_admin, login
):
    client = login(acme_admin.user)
    assert (
        client.post(url("member_role", pk=globex_admin.pk), {"role": "viewer"}).status_code == 404
    )
    assert client.post(url("member_remove", pk=globex_admin.pk)).status_code == 404
    assert roles_in(globex_admin.organization) == {"admin@globex.test": "admin"}


def test_admin_removes_a_member_who_leaves_their_teams_but_keeps_the_account(
    acme_admin, make_member, login
):
    from tests.factories import TeamFactory

    target = make_member(acme_admin.organization, Role.RESPONDER, email="r@acme.test")
    team = TeamFactory(organization=acme_admin.organization, members=[target.user])
    response = login(acme_admin.user).post(url("member_remove", pk=target.pk))
    assert response.status_code == 302
    assert "r@acme.test" not in roles_in(acme_admin.organization)
    assert list(team.members.all()) == []
    assert User.objects.filter(email="r@acme.test", is_active=True).exists()


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_may_not_remove_members(acme, make_member, login, role):
    actor = make_member(acme, role)
    target = make_member(acme, Role.VIEWER, email="v@acme.test")
    assert login(actor.user).post(url("member_remove", pk=target.pk)).status_code == 403
    assert "v@acme.test" in roles_in(acme)


def invitation_link(message) -> str:
    return re.search(r"http://\S+/accounts/invitation/\S+/", message.body).group(0)


def test_invitation_round_trip_creates_an_account_and_membership(
    acme_admin, login, client, django_capture_on_commit_callbacks
):
    admin_client = login(acme_admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url("invitation_create"), {"email": "New.Person@Example.test", "role": "responder"}
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.test"]
    link = invitation_link(mail.outbox[0]).replace("http://127.0.0.1:8000", "")
    admin_client.logout()

    page = client.get(link)
    assert page.status_code == 200
    assert b"Acme Payments" in page.content
    response = client.post(
        link, {"full_name": "New Person", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/"
    assert roles_in(acme_admin.organization)["new.person@example.test"] == "responder"
    assert client.get("/o/acme/").status_code == 200

    client.logout()
    assert client.get(link).status_code == 404, "the link works once"


def test_invitation_form_errors_keep_the_input_and_create_nothing(acme_admin, login):
    response = login(acme_admin.user).post(
        url("invitation_create"), {"email": "not-an-address", "role": "responder"}
    )
    assert response.status_code == 200
    assert b"Enter a valid email address." in response.content
    assert b'value="not-an-address"' in response.content
    with scopes_disabled():
        assert Invitation.objects.count() == 0
    assert mail.outbox == []


def test_inviting_an_existing_member_is_refused(acme_admin, make_member, login):
    make_member(acme_admin.organization, Role.VIEWER, email="v@acme.test")
    response = login(acme_admin.user).post(
        url("invitation_create"), {"email": "V@acme.test", "role": "manager"}
    )
    assert b"already a member" in response.content
    with scopes_disabled():
        assert Invitation.objects.count() == 0


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_may_not_invite(acme, make_member, login, role):
    actor = make_member(acme, role)
    response = login(actor.user).post(
        url("invitation_create"), {"email": "x@example.test", "role": "admin"}
    )
    assert response.status_code == 403
    with scopes_disabled():
        assert Invitation.objects.count() == 0


def test_reinviting_replaces_the_old_link(
    acme_admin, login, client, django_capture_on_commit_callbacks
):
    admin_client = login(acme_admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("invitation_create"), {"email": "x@example.test", "role": "viewer"})
        admin_client.post(url("invitation_create"), {"email": "x@example.test", "role": "manager"})
    first, second = (invitation_link(m).replace("http://127.0.0.1:8000", "") for m in mail.outbox)
    admin_client.logout()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_revoked_invitation_link_stops_working(
    acme_admin, login, client, django_capture_on_commit_callbacks
):
    admin_client = login(acme_admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("invitation_create"), {"email": "x@example.test", "role": "viewer"})
    with scopes_disabled():
        invitation = Invitation.objects.get()
    admin_client.post(url("invitation_revoke", pk=invitation.pk))
    admin_client.logout()
    link = invitation_link(mail.outbox[0]).replace("http://127.0.0.1:8000", "")
    assert client.get(link).status_code == 404


def test_an_existing_account_signs_in_then_accepts(
    acme_admin, login, client, django_capture_on_commit_callbacks
):
    person = UserFactory(email="known@example.test")
    admin_client = login(acme_admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("invitation_create"), {"email": person.email, "role": "viewer"})
    admin_client.logout()
    link = invitation_link(mail.outbox[0]).replace("http://127.0.0.1:8000", "")
    anonymous = client.get(link)
    assert b"Sign in" in anonymous.content
    assert (
        client.post(link, {"full_name": "x", "password1": "y", "password2": "y"}).status_code == 200
    )
    assert "known@example.test" not in roles_in(acme_admin.organization)
    login(person)
    assert client.post(link).status_code == 302
    assert roles_in(acme_admin.organization)["known@example.test"] == "viewer"


def test_accepting_signed_in_as_someone_else_is_refused(
    acme_admin, login, client, django_capture_on_commit_callbacks
):
    other = UserFactory(email="other@example.test")
    admin_client = login(acme_admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("invitation_create"), {"email": "x@example.test", "role": "admin"})
    admin_client.logout()
    link = invitation_link(mail.outbox[0]).replace("http://127.0.0.1:8000", "")
    login(other)
    response = client.post(link)
    assert response.status_code == 200
    assert b"This invitation is for x@example.test" in response.content
    assert "other@example.test" not in roles_in(acme_admin.organization)


def test_a_weak_password_is_refused_with_a_reason(
    acme_admin, login, client, django_capture_on_commit_callbacks
):
    admin_client = login(acme_admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("invitation_create"), {"email": "x@example.test", "role": "viewer"})
    admin_client.logout()
    link = invitation_link(mail.outbox[0]).replace("http://127.0.0.1:8000", "")
    response = client.post(link, {"full_name": "X", "password1": "12345", "password2": "12345"})
    assert response.status_code == 200
    assert b"too short" in response.content
    assert not User.objects.filter(email="x@example.test").exists()


def test_an_invented_token_gets_404(client, db):
    assert client.get("/accounts/invitation/made-up-token/").status_code == 404
