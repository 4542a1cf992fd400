"""People of each role in acme, a stranger from globex, and a declared incident."""

import pytest

from tests.incidents.factories import declare, document


@pytest.fixture
def incident(acme, responder):
    """A SEV-3 incident Rita declared, nothing filled in yet."""
    return declare(acme, responder)


@pytest.fixture
def documented(incident, responder):
    """A SEV-3 incident with everything the lifecycle asks for, still reported."""
    return document(incident, responder)
