"""People of each role in acme, a stranger from globex, and a declared incident."""

import pytest

from tenancy.roles import Role
from tests.incidents.factories import declare, document


@pytest.fixture
def responder(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita").user


@pytest.fixture
def other_responder(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar").user


@pytest.fixture
def viewer(acme, make_member):
    return make_member(acme, Role.VIEWER, email="vera@acme.test", full_name="Vera").user


@pytest.fixture
def manager(acme, make_member):
    return make_member(acme, Role.MANAGER, email="max@acme.test", full_name="Max").user


@pytest.fixture
def admin(acme_admin):
    return acme_admin.user


@pytest.fixture
def stranger(globex_admin):
    """An admin — of globex: no role at all in acme."""
    return globex_admin.user


@pytest.fixture
def incident(acme, responder):
    """A SEV-3 incident Rita declared, nothing filled in yet."""
    return declare(acme, responder)


@pytest.fixture
def documented(incident, responder):
    """A SEV-3 incident with everything the lifecycle asks for, still reported."""
    return document(incident, responder)
