"""Token authentication, read/write scopes, the JSON error shape, unknown paths, the schema."""

import datetime

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import ApiToken
from tenancy.roles import Role

pytestmark = pytest.mark.django_db


def test_a_token_acts_as_its_user_in_its_organisation(api, make_token, acme_admin):
    response = api(make_token(acme_admin)).get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == "admin@acme.test"
    assert body["organization"] == "acme"
    assert body["role"] == Role.ADMIN
    assert body["scope"] == "write"
    with scopes_disabled():
        assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer vgl_nope_nope",
        "Bearer not-a-token",
        "Bearer vgl__",
        "Bearer a b",
        "Bearer vgl_\u00e9_x",
    ],
)
def test_missing_or_malformed_tokens_get_401_in_json(api, make_token, acme_admin, header):
    client = api()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_is_refused(api, make_token, acme_admin):
    token = make_token(acme_admin)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert api(tampered).get("/api/v1/me/").status_code == 401


def test_expired_and_revoked_tokens_are_refused(api, make_token, acme_admin):
    from api.services import token_revoke

    expired = make_token(acme_admin, name="old")
    revoked = make_token(acme_admin, name="revoked")
    with scopes_disabled():
        ApiToken.objects.filter(name="old").update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
        token_revoke(token=ApiToken.objects.get(name="revoked"))

    assert api(expired).get("/api/v1/me/").status_code == 401
    assert api(revoked).get("/api/v1/me/").status_code == 401


def test_a_token_stops_working_when_its_user_leaves_or_is_deactivated(
    api, make_token, acme, make_member
):
    member = make_member(acme, Role.RESPONDER)
    token = make_token(member)
    assert api(token).get("/api/v1/me/").status_code == 200

    member.user.is_active = False
    member.user.save()
    assert api(token).get("/api/v1/me/").status_code == 401
    member.user.is_active = True
    member.user.save()
    with scopes_disabled():
        member.delete()
    assert api(token).get("/api/v1/me/").status_code == 401


def test_a_read_token_may_not_write(api, make_token, acme_admin):
    response = api(make_token(acme_admin, scope="read")).post("/api/v1/me/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "read-only" in response.json()["detail"]


def test_unknown_api_paths_answer_json_404(api, make_token, acme_admin):
    response = api(make_token(acme_admin)).get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such API endpoint."}


def test_the_schema_is_served_and_documents_bearer_tokens(client):
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_docs_page_serves_its_assets_locally(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html


def test_schema_generation_has_no_warnings():
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=err)
    assert "openapi" in out.getvalue()
