"""The organisation's audit-trail page: admins and compliance only, own organisation only."""

import pytest
from django.urls import reverse

from tenancy.audit import audit_context
from tenancy.roles import Role
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

URL = reverse("compliance:audit_list", kwargs={"org_slug": "acme"})


@pytest.fixture
def trail(acme, globex, acme_admin, make_member):
    """Two acme teams made by different actors, one globex team."""
    responder = make_member(acme, Role.RESPONDER, email="r@acme.test")
    with audit_context(actor=acme_admin.user, origin="command:test"):
        TeamFactory(organization=acme, name="Acme Platform")
    with audit_context(actor=responder.user, origin="command:test"):
        TeamFactory(organization=acme, name="Acme Payments")
    TeamFactory(organization=globex, name="Globex Grid")
    return responder


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COMPLIANCE])
def test_admins_and_compliance_see_their_organisations_trail_only(
    trail, acme, make_member, login, role
):
    client = login(make_member(acme, role).user)
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Acme Platform" in response.content
    assert b"Acme Payments" in response.content
    assert b"Globex Grid" not in response.content


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_other_roles_are_refused(trail, acme, make_member, login, role):
    assert login(make_member(acme, role).user).get(URL).status_code == 404


def test_filter_by_actor(trail, acme_admin, login):
    response = login(acme_admin.user).get(URL, {"actor": trail.user.pk})
    assert b"Acme Payments" in response.content
    assert b"Acme Platform" not in response.content


def test_filter_by_action_and_date(trail, acme_admin, login):
    client = login(acme_admin.user)
    deleted = client.get(URL, {"action": "2"})
    assert b"No audit entries match these filters" in deleted.content
    future = client.get(URL, {"since": "2999-01-01"})
    assert b"No audit entries match these filters" in future.content


def test_an_actor_from_another_organisation_is_not_a_valid_filter(
    trail, acme_admin, globex_admin, login
):
    response = login(acme_admin.user).get(URL, {"actor": globex_admin.user.pk})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert b"Acme Platform" not in response.content


def test_bad_dates_are_explained_not_a_crash(trail, acme_admin, login):
    response = login(acme_admin.user).get(URL, {"since": "yesterday"})
    assert response.status_code == 200
    assert b"Enter a valid date." in response.content


def test_the_trail_is_paginated_with_constant_queries(
    acme, acme_admin, login, django_assert_max_num_queries
):
    with audit_context(actor=acme_admin.user, origin="command:test"):
        for n in range(60):
            TeamFactory(organization=acme, name=f"Team {n:02d}")
    client = login(acme_admin.user)
    with django_assert_max_num_queries(15):
        first = client.get(URL)
    assert b"Page 1 of 2" in first.content
    assert b"Team 59" in first.content
    second = client.get(URL, {"page": 2})
    assert b"Team 00" in second.content
