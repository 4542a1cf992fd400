"""Acme with one person per role, a compliance officer, a restricted incident granted to Oscar,
and helpers to start and read access reviews."""

import pytest
from django_scopes import scopes_disabled

from compliance.reviews import services
from compliance.reviews.models import Campaign, ReviewLine
from incidents import services as incident_services
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import declare


@pytest.fixture
def cora(acme, make_member):
    """Acme's compliance officer."""
    return make_member(acme, Role.COMPLIANCE, email="cora@acme.test", full_name="Cora").user


@pytest.fixture
def world(acme, admin, cora, responder, other_responder, viewer, manager):
    """Acme's people and a restricted incident Oscar was granted; an open one nobody needs a
    grant for."""
    secret = declare(acme, admin, title="Payroll export leaked", is_restricted=True)
    with org_scope(acme):
        incident_services.incident_grant_access(incident=secret, actor=admin, user=other_responder)
    public = declare(acme, admin, title="Checkout slow")
    return secret, public


def start(organization, actor=None, **kwargs) -> Campaign:
    return services.campaign_start(organization=organization, actor=actor, **kwargs)


def lines_of(campaign) -> list[ReviewLine]:
    with scopes_disabled():
        return list(
            ReviewLine.objects.filter(campaign=campaign)
            .select_related("reviewer", "user", "decided_by")
            .order_by("pk")
        )


def line_for(campaign, email, kind=ReviewLine.Kind.MEMBERSHIP, key="") -> ReviewLine:
    with scopes_disabled():
        return ReviewLine.objects.select_related("reviewer", "user").get(
            campaign=campaign, subject=email, kind=kind, incident_key__startswith=key
        )


def fresh_line(line) -> ReviewLine:
    with scopes_disabled():
        return ReviewLine.objects.select_related("decided_by").get(pk=line.pk)


def campaigns(organization) -> list[Campaign]:
    with org_scope(organization):
        return list(Campaign.objects.filter(organization=organization))
