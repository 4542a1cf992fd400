"""Shared by the resource endpoint tests (test_timeline, test_alerts, test_postmortems,
test_kpis): one member and one API token per role of acme, globex's admin, and helpers."""

import pytest

from tenancy.roles import Role

ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE, Role.ADMIN]
EMAIL = "jane.doe@example.com"  # personal data the masking hides
MASKED = "[e-mail hidden]"


@pytest.fixture
def people(acme, globex, make_member):
    """role → membership of acme (one per role), and "globex" → globex's admin."""
    members = {role: make_member(acme, role, email=f"{role}@acme.test") for role in ROLES}
    members["globex"] = make_member(globex, Role.ADMIN, email="admin@globex.test")
    return members


@pytest.fixture
def as_role(people, make_token, api):
    """as_role(role, scope="write") → an API client acting as that member."""

    def make(role, scope="write"):
        return api(make_token(people[role], scope=scope))

    return make


@pytest.fixture
def no_broker(monkeypatch):
    """Notifications are recorded but not queued (no broker in these tests)."""
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


def page(response) -> list:
    assert response.status_code == 200, response.content
    return response.json()["results"]
