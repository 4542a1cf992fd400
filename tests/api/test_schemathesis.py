"""Schemathesis over `/api/v1/schema/` against the live test server: every operation the schema
lists (whoever added it), called with generated input by a write token of an admin of an
organisation with a little data, never answers 5xx, and answers JSON in the documented shape.

Kept short: a few examples per operation, no shrinking. Run alone with
`pytest tests/api/test_schemathesis.py`."""

import zlib

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from incidents import services
from taxonomy.models import CustomFieldDefinition
from tenancy.scoping import org_scope
from tests.incidents.factories import ServiceFactory, declare, document, severity

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_schema(live_server):
    """The schema as the live server serves it (so operations added later are covered)."""
    response = requests.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=30)
    response.raise_for_status()
    return schemathesis.from_dict(response.json(), base_url=live_server.url)


schema = schemathesis.from_pytest_fixture("api_schema")


@pytest.fixture
def world(settings, acme, acme_admin, make_member, make_token):
    """An admin's write token in acme, with a few incidents in several states."""
    from tenancy.roles import Role

    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    responder = make_member(acme, Role.RESPONDER).user
    with org_scope(acme):
        CustomFieldDefinition.objects.create(
            organization=acme, key="customer", label="Customer", field_type="text"
        )
    ServiceFactory(organization=acme, name="Payments")
    plain = declare(acme, responder, title="Checkout fails for bob@example.test")
    investigating = document(declare(acme, responder, title="Replica lag"), responder)
    with org_scope(acme):
        services.incident_transition(
            incident=investigating, name="start_investigation", actor=responder
        )
    declare(acme, responder, title="Breach", is_restricted=True, severity=severity(acme, "SEV-2"))
    return {
        "token": make_token(acme_admin),
        "keys": [plain.key, investigating.key, None],
    }


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_out_of_its_schema(case, world):
    # Now and then a real incident key, so operations on one incident get past the 404.
    # Chosen from the case itself, so Hypothesis replaying a case gets the same key.
    seed = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    key = world["keys"][seed % len(world["keys"])]
    if key and case.path_parameters and "key" in case.path_parameters:
        case.path_parameters["key"] = key
    response = case.call(headers={"Authorization": f"Bearer {world['token']}"}, timeout=30)
    case.validate_response(
        response,
        checks=(not_a_server_error, content_type_conformance, response_schema_conformance),
    )
