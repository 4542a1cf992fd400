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
