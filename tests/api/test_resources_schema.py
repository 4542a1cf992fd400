"""The resource endpoints are in the OpenAPI schema with their operations, parameters and
request bodies (generation without warnings is tests/api/test_auth.py's job)."""

import pytest

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "/api/v1/incidents/{key}/timeline/": {"get"},
    "/api/v1/incidents/{key}/comments/": {"get", "post"},
    "/api/v1/incidents/{key}/status-updates/": {"get", "post"},
    "/api/v1/alerts/": {"get"},
    "/api/v1/alerts/{id}/": {"get"},
    "/api/v1/alert-groups/": {"get"},
    "/api/v1/alert-groups/{id}/": {"get"},
    "/api/v1/postmortems/": {"get"},
    "/api/v1/postmortems/{ref}/": {"get"},
    "/api/v1/action-items/": {"get"},
    "/api/v1/action-items/{id}/": {"get", "patch"},
    "/api/v1/kpis/": {"get"},
}


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator(api_version="v1").get_schema(request=None, public=True)


def test_every_resource_endpoint_and_method_is_documented(schema):
    documented = {
        path: set(methods) - {"parameters"}
        for path, methods in schema["paths"].items()
        if path in OPERATIONS
    }

    assert documented == OPERATIONS


def parameters(schema, path) -> set[str]:
    return {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}


def test_filters_are_documented(schema):
    assert {"status", "source", "since", "until", "cursor", "page_size"} <= parameters(
        schema, "/api/v1/alerts/"
    )
    assert {"status", "owner", "team", "overdue"} <= parameters(schema, "/api/v1/action-items/")
    assert {"since", "until", "team", "service", "severity", "category", "include_excluded"} <= (
        parameters(schema, "/api/v1/kpis/")
    )
    assert "kind" in parameters(schema, "/api/v1/incidents/{key}/timeline/")


def test_write_bodies_are_documented(schema):
    def body(path, method):
        content = schema["paths"][path][method]["requestBody"]["content"]
        return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    components = schema["components"]["schemas"]
    comment = components[body("/api/v1/incidents/{key}/comments/", "post")]
    patch = components[body("/api/v1/action-items/{id}/", "patch")]

    assert comment["required"] == ["text"]
    assert comment["properties"]["text"]["maxLength"] == 10_000
    assert set(patch["properties"]) == {"status"}


# — lists read a fixed number of queries, whatever the number of rows ————————————————————


def _queries(client, path) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    # Leave out the token's last-used stamp (written at most once a minute, whatever the list).
    return sum(1 for query in captured if 'UPDATE "api_apitoken"' not in query["sql"])


@pytest.mark.usefixtures("no_broker")
def test_list_endpoints_read_a_fixed_number_of_queries(acme, people, as_role):
    from incidents import coordination, services
    from tenancy.roles import Role
    from tenancy.scoping import org_scope
    from tests.api.test_alerts import make_alert, make_source
    from tests.postmortems.test_actions_support import make_item, make_postmortem

    actor = people[Role.RESPONDER].user
    pm = make_postmortem(acme, actor)
    incident = pm.incident
    source = make_source(acme)
    client = as_role(Role.MANAGER)

    def add(start, n):
        with org_scope(acme):
            for index in range(start, start + n):
                services.incident_comment(incident=incident, actor=actor, text=f"c{index}")
                coordination.status_update_post(
                    incident=incident, actor=actor, current_status=f"s{index}"
                )
                make_item(pm, title=f"i{index}", owner=actor)
                make_postmortem(acme, actor, title=f"p{index}")
                make_alert(source, incident=incident, title=f"a{index}", ago=index)

    paths = [
        f"/api/v1/incidents/{incident.key}/timeline/",
        f"/api/v1/incidents/{incident.key}/comments/",
        f"/api/v1/incidents/{incident.key}/status-updates/",
        "/api/v1/alerts/",
        "/api/v1/alert-groups/",
        "/api/v1/postmortems/",
        "/api/v1/action-items/",
    ]
    add(0, 2)
    few = [_queries(client, path) for path in paths]
    add(2, 10)
    many = [_queries(client, path) for path in paths]

    assert many == few
