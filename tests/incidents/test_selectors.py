"""incidents.selectors: the one visibility rule behind every list, count, search and lookup."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from incidents import services
from incidents.lifecycle import Status
from incidents.models import Incident
from incidents.selectors import (
    incident_get,
    incident_list,
    incident_search,
    similar_open_incidents,
)
from tenancy.models import Membership
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import ServiceFactory, bring_to, declare, document

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("acme_scope")]


def listed(organization, user):
    membership = Membership.objects.filter(organization=organization, user=user).first()
    return incident_list(organization=organization, user=user, membership=membership)


def keys(queryset) -> list[str]:
    return sorted(queryset.values_list("key", flat=True))


def get(organization, user, key):
    membership = Membership.objects.filter(organization=organization, user=user).first()
    return incident_get(organization=organization, user=user, membership=membership, key=key)


def similar(organization, user, title="", service_id=None):
    membership = Membership.objects.filter(organization=organization, user=user).first()
    return [
        i.key
        for i in similar_open_incidents(
            organization=organization,
            user=user,
            membership=membership,
            title=title,
            service_id=service_id,
        )
    ]


@pytest.fixture
def open_and_restricted(acme, responder, other_responder):
    """ACME-1 open to all; ACME-2 restricted, reported by Rita with Oscar as commander."""
    declare(acme, responder, title="Checkout slow")
    declare(
        acme,
        responder,
        title="Suspicious admin logins",
        is_restricted=True,
        commander=other_responder,
    )


# — incident_list ——————————————————————————————————————————————————————————————————————


def test_a_responder_does_not_see_restricted_incidents(acme, open_and_restricted, make_member):
    someone = make_member(acme, Role.RESPONDER).user

    assert keys(listed(acme, someone)) == ["ACME-1"]
    assert listed(acme, someone).count() == 1


def test_reporter_and_commander_see_the_restricted_incident(
    acme, open_and_restricted, responder, other_responder
):
    assert keys(listed(acme, responder)) == ["ACME-1", "ACME-2"]
    assert keys(listed(acme, other_responder)) == ["ACME-1", "ACME-2"]


def test_an_admin_sees_every_incident(acme, open_and_restricted, admin):
    assert keys(listed(acme, admin)) == ["ACME-1", "ACME-2"]
    assert listed(acme, admin).count() == 2


def test_a_granted_member_sees_the_restricted_incident_until_revoked(
    acme, open_and_restricted, admin, viewer
):
    restricted = Incident.objects.get(key="ACME-2")
    services.incident_grant_access(incident=restricted, actor=admin, user=viewer)
    granted = keys(listed(acme, viewer))

    services.incident_revoke_access(incident=restricted, actor=admin, user=viewer)

    assert granted == ["ACME-1", "ACME-2"]
    assert keys(listed(acme, viewer)) == ["ACME-1"]


def test_another_organisations_incidents_are_never_listed(
    acme, globex, globex_admin, responder, admin
):
    declare(acme, responder)
    with org_scope(globex):
        declare(globex, globex_admin.user)

    assert keys(listed(acme, admin)) == ["ACME-1"]


# — incident_get ———————————————————————————————————————————————————————————————————————


def test_an_incident_is_found_by_key_ignoring_case(acme, incident, viewer):
    assert get(acme, viewer, "acme-1") == incident


def test_a_hidden_restricted_incident_looks_missing(acme, open_and_restricted, viewer):
    with pytest.raises(Http404):
        get(acme, viewer, "ACME-2")

    assert Incident.objects.filter(key="ACME-2").exists()


def test_the_reporter_gets_the_restricted_incident(acme, open_and_restricted, responder):
    assert get(acme, responder, "ACME-2").title == "Suspicious admin logins"


def test_another_organisations_key_looks_missing(acme, globex, globex_admin, admin):
    with org_scope(globex):
        declare(globex, globex_admin.user)

    with pytest.raises(Http404):
        get(acme, admin, "GLX-1")

    assert listed(acme, admin).count() == 0


# — incident_search ————————————————————————————————————————————————————————————————————


def test_search_finds_words_in_title_and_description(acme, responder, viewer):
    declare(acme, responder, title="Payments failing", description="Card processor timeouts")
    declare(acme, responder, title="Slow dashboard")

    assert keys(incident_search(listed(acme, viewer), "timeout")) == ["ACME-1"]
    assert keys(incident_search(listed(acme, viewer), "payment")) == ["ACME-1"]


def test_search_finds_a_title_fragment(acme, responder, viewer):
    declare(acme, responder, title="Payments failing")
    declare(acme, responder, title="Slow dashboard")

    assert keys(incident_search(listed(acme, viewer), "dashb")) == ["ACME-2"]


def test_search_finds_a_key_and_nothing_else(acme, responder, viewer):
    declare(acme, responder, title="Payments failing")
    declare(acme, responder, title="Slow dashboard")

    assert keys(incident_search(listed(acme, viewer), "acme-2")) == ["ACME-2"]


def test_a_search_of_several_words_returns_only_incidents_with_all_of_them(acme, responder, viewer):
    declare(acme, responder, title="Payments failing", description="Card processor timeouts")
    declare(acme, responder, title="Slow dashboard")

    assert keys(incident_search(listed(acme, viewer), "processor timeouts")) == ["ACME-1"]


def test_empty_search_returns_everything_visible(acme, open_and_restricted, viewer):
    assert keys(incident_search(listed(acme, viewer), "  ")) == ["ACME-1"]


@pytest.mark.parametrize("text", ["suspicious logins", "ACME-2", "admin", "Suspicious"])
def test_search_never_returns_hidden_incidents(acme, open_and_restricted, viewer, text):
    found = keys(incident_search(listed(acme, viewer), text))

    assert "ACME-2" not in found
    assert incident_search(listed(acme, viewer), text).filter(key="ACME-2").count() == 0


def test_search_finds_the_restricted_incident_for_an_admin(acme, open_and_restricted, admin):
    assert "ACME-2" in keys(incident_search(listed(acme, admin), "suspicious"))


# — similar_open_incidents —————————————————————————————————————————————————————————————


def test_similar_incidents_share_the_service_or_title_words(acme, responder, viewer):
    checkout = ServiceFactory(organization=acme, name="Checkout")
    declare(acme, responder, title="Error rate high", primary_service=checkout)
    declare(acme, responder, title="Payments failing for Visa")
    declare(acme, responder, title="Dashboard slow")

    assert sorted(similar(acme, viewer, title="Visa payments", service_id=checkout.pk)) == [
        "ACME-1",
        "ACME-2",
    ]


def test_similar_incidents_leave_out_ended_old_and_hidden_ones(acme, responder, viewer, documented):
    bring_to(document(documented, responder), Status.RESOLVED, responder)
    old = declare(acme, responder, title="Payments failing yesterday")
    Incident.objects.filter(pk=old.pk).update(reported_at=timezone.now() - timedelta(hours=25))
    declare(acme, responder, title="Payments failing secretly", is_restricted=True)
    declare(acme, responder, title="Payments failing again")

    assert similar(acme, viewer, title="Checkout payments failing") == ["ACME-4"]


def test_nothing_to_compare_finds_nothing(acme, incident, viewer):
    assert similar(acme, viewer, title="a b c", service_id=None) == []
