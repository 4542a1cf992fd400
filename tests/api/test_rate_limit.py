"""Rate limits per token: 429 with `Retry-After` over the limit, other tokens unaffected."""

import pytest

from api import throttling
from tenancy.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(settings, monkeypatch):
    """A limit of 3 a minute, in one fixed minute (no window boundary mid-test), counted from
    zero."""
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    now = 1_800_000_030.0  # 30 s into a minute
    monkeypatch.setattr(throttling, "now", lambda: now)
    redis = throttling.client()
    for key in redis.scan_iter("vigil:api:rate:*"):
        redis.delete(key)
    yield
    for key in redis.scan_iter("vigil:api:rate:*"):
        redis.delete(key)


def test_over_the_limit_a_token_gets_429_with_retry_after(limited, api, make_token, acme_admin):
    client = api(make_token(acme_admin))

    codes = [client.get("/api/v1/me/").status_code for _ in range(3)]
    refused = client.get("/api/v1/me/")

    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert refused["Retry-After"] == "30"
    assert refused.json()["retry_after"] == 30


def test_writes_count_too_and_change_nothing_when_refused(limited, api, make_token, acme_admin):
    from django_scopes import scopes_disabled

    from incidents.models import Incident

    client = api(make_token(acme_admin))
    for _ in range(3):
        client.get("/api/v1/me/")

    response = client.post("/api/v1/incidents/", {"title": "Down"}, format="json")

    assert response.status_code == 429
    with scopes_disabled():
        assert not Incident.objects.exists()


def test_another_token_is_unaffected(limited, api, make_token, acme, make_member, acme_admin):
    busy = api(make_token(acme_admin, name="busy"))
    calm_same_user = api(make_token(acme_admin, name="calm"))
    calm_other_user = api(make_token(make_member(acme, Role.VIEWER), scope="read"))
    for _ in range(4):
        busy.get("/api/v1/me/")

    assert busy.get("/api/v1/me/").status_code == 429
    assert calm_same_user.get("/api/v1/me/").status_code == 200
    assert calm_other_user.get("/api/v1/me/").status_code == 200


def test_the_next_minute_starts_afresh(limited, api, make_token, acme_admin, monkeypatch):
    client = api(make_token(acme_admin))
    for _ in range(4):
        client.get("/api/v1/me/")
    assert client.get("/api/v1/me/").status_code == 429

    monkeypatch.setattr(throttling, "now", lambda: 1_800_000_090.0)

    assert client.get("/api/v1/me/").status_code == 200


@pytest.fixture
def redis_down(settings, monkeypatch):
    """The throttle's Redis client pointed at a local port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/13"
    monkeypatch.setattr(throttling, "_client", None)


def test_redis_down_is_a_503_with_retry_after_and_changes_nothing(
    redis_down, api, make_token, acme_admin
):
    from django_scopes import scopes_disabled

    from incidents.models import Incident

    client = api(make_token(acme_admin))

    read = client.get("/api/v1/me/")
    write = client.post("/api/v1/incidents/", {"title": "Down"}, format="json")

    for response in (read, write):
        assert response.status_code == 503
        assert response.json()["code"] == "unavailable"
        assert int(response["Retry-After"]) > 0
    with scopes_disabled():
        assert not Incident.objects.exists()
