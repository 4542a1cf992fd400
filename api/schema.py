"""Teach drf-spectacular about Vigil's bearer tokens (imported by ApiConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token, `vgl_<lookup>_<secret>`, from your settings.",
        }


IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Send the same key to repeat a POST safely: the first response is returned "
    "again (`Idempotent-Replayed: true`); another request with the key is 409. Kept 24 hours.",
}


def add_idempotency_header(result, generator, request, public):
    """Every POST accepts `Idempotency-Key` (api/idempotency.py): say so on each of them,
    whoever wrote the view (a drf-spectacular postprocessing hook)."""
    for operations in result.get("paths", {}).values():
        post = operations.get("post")
        if post is None:
            continue
        parameters = post.setdefault("parameters", [])
        if not any(p.get("name") == "Idempotency-Key" for p in parameters):
            parameters.append(IDEMPOTENCY_PARAMETER)
    return result
