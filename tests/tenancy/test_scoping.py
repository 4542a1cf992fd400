"""Unscoped reads of tenant data fail loudly; scopes isolate organisations."""

import pytest
from django_scopes import ScopeError, scopes_disabled

from tenancy.models import Membership, Team
from tenancy.scoping import org_scope
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_reading_tenant_rows_without_a_scope_raises(acme):
    TeamFactory(organization=acme)
    with pytest.raises(ScopeError):
        list(Team.objects.all())
    with pytest.raises(ScopeError):
        Team.objects.count()


@pytest.mark.parametrize(
    "read",
    [
        lambda: Team.objects.exists(),
        lambda: Team.objects.in_bulk(),
        lambda: Team.objects.explain(),
    ],
    ids=["exists", "in_bulk", "explain"],
)
def test_the_reads_django_scopes_leaves_open_raise_too(acme, read):
    TeamFactory(organization=acme)
    with pytest.raises(ScopeError):
        read()


def test_a_scope_shows_only_that_organisations_rows(acme, globex):
    TeamFactory(organization=acme, name="Acme team")
    TeamFactory(organization=globex, name="Globex team")
    with org_scope(acme):
        assert [t.name for t in Team.objects.all()] == ["Acme team"]
        assert Team.objects.filter(name="Globex team").exists() is False
    with org_scope(globex):
        assert [t.name for t in Team.objects.all()] == ["Globex team"]


def test_org_scope_refuses_none_which_would_show_every_tenant():
    with pytest.raises(TypeError), org_scope(None):
        pass


def test_org_scope_accepts_an_id(acme):
    TeamFactory(organization=acme)
    with org_scope(acme.pk):
        assert Team.objects.count() == 1


def test_scopes_disabled_is_the_explicit_cross_tenant_door(acme, globex, make_member):
    make_member(acme)
    make_member(globex)
    with scopes_disabled():
        assert Membership.objects.count() == 2
