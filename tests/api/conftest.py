"""API test helpers: a token for a member, and a client that sends it."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.services import token_create
from tenancy.scoping import org_scope


@pytest.fixture
def make_token():
    """make_token(membership, scope="write", expires_in=days) → the token string."""

    def make(membership, scope="write", expires_in=datetime.timedelta(days=30), name="test"):
        with org_scope(membership.organization):
            _, shown = token_create(
                organization=membership.organization,
                user=membership.user,
                name=name,
                scope=scope,
                expires_at=timezone.now() + expires_in,
            )
        return shown

    return make


@pytest.fixture
def api():
    """api(token) → an APIClient sending `Authorization: Bearer <token>`."""

    def make(token=None):
        client = APIClient()
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


# The resource endpoint tests' fixtures (helper api-res).
from tests.api.resources_support import as_role, no_broker, people  # noqa: E402, F401
from tests.reporting.conftest import march  # noqa: E402, F401  (the hand-worked March 2026)
