"""`Idempotency-Key` on POST: a repeat gets the first response, another body 409, two at once
never both run, keys expire after a day."""

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import IdempotencyRecord
from incidents import services
from incidents.models import Incident
from tenancy.roles import Role

LIST = "/api/v1/incidents/"


def incidents_of(org):
    with scopes_disabled():
        return Incident.objects.filter(organization=org).count()


@pytest.fixture
def writer(acme, make_member, make_token, api):
    return api(make_token(make_member(acme, Role.RESPONDER)))


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_response(writer, acme):
    first = writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert incidents_of(acme) == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_or_path_is_a_conflict(writer, acme):
    writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    other_body = writer.post(LIST, {"title": "Up"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other_path = writer.post(
        "/api/v1/incidents/ACME-1/transitions/dismiss/",
        {"title": "Down"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert other_body.status_code == 409
    assert other_body.json()["code"] == "idempotency_conflict"
    assert other_path.status_code == 409
    assert incidents_of(acme) == 1


@pytest.mark.django_db
def test_without_a_key_every_post_runs(writer, acme):
    writer.post(LIST, {"title": "Down"}, format="json")
    writer.post(LIST, {"title": "Down"}, format="json")

    assert incidents_of(acme) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "   ", "x" * 256])
def test_a_blank_or_too_long_key_is_refused(writer, acme, key):
    response = writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert incidents_of(acme) == 0


@pytest.mark.django_db
def test_a_key_of_255_characters_works(writer, acme):
    key = "k" * 255
    writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert again["Idempotent-Replayed"] == "true"
    assert incidents_of(acme) == 1


@pytest.mark.django_db
def test_an_error_response_is_replayed_too(writer, acme):
    first = writer.post(LIST, {"title": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    again = writer.post(LIST, {"title": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_keys_belong_to_one_user(acme, make_member, make_token, api):
    alice = api(make_token(make_member(acme, Role.RESPONDER)))
    bob = api(make_token(make_member(acme, Role.RESPONDER)))

    a = alice.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = bob.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert a.status_code == b.status_code == 201
    assert a.json()["key"] != b.json()["key"]
    assert not b.has_header("Idempotent-Replayed")


@pytest.mark.django_db
def test_a_refused_request_claims_no_key(acme, make_member, make_token, api):
    compliance = api(make_token(make_member(acme, Role.COMPLIANCE)))

    response = compliance.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 403
    with scopes_disabled():
        assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_keys_expire_after_a_day(writer, acme):
    writer.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    with scopes_disabled():
        IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))

    reused = writer.post(LIST, {"title": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="old")

    assert reused.status_code == 201
    assert not reused.has_header("Idempotent-Replayed")
    assert incidents_of(acme) == 2
    with scopes_disabled():
        assert IdempotencyRecord.objects.count() == 1  # the expired one was swept


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_never_both_run(
    acme, make_member, make_token, api, monkeypatch
):
    token = make_token(make_member(acme, Role.RESPONDER))
    original = services.incident_create

    def slow_create(**kwargs):
        time.sleep(1.0)  # the second request arrives while the first still runs
        return original(**kwargs)

    monkeypatch.setattr(services, "incident_create", slow_create)
    responses = []
    start = threading.Barrier(2)

    def send():
        client = api(token)
        start.wait()
        try:
            responses.append(
                client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409]
    busy = next(r for r in responses if r.status_code == 409)
    assert busy.json()["code"] == "idempotency_in_progress"
    assert incidents_of(acme) == 1
    # Once the first has finished, the key replays its response.
    replay = api(token).post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert incidents_of(acme) == 1


@pytest.mark.django_db
def test_a_repeated_transition_with_its_key_runs_once(writer, acme, make_member):
    from tests.incidents.factories import declare, fresh

    incident = declare(acme, make_member(acme, Role.RESPONDER).user)
    url = f"/api/v1/incidents/{incident.key}/transitions/start_investigation/"

    first = writer.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    again = writer.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    without_key = writer.post(url, {}, format="json")

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert fresh(incident).version == first.json()["version"]
    assert without_key.status_code == 422  # not possible twice: proves the replay did not run


def test_the_schema_documents_the_header_on_every_post(client):
    schema = client.get("/api/v1/schema/?format=json").json()

    posts = [ops["post"] for ops in schema["paths"].values() if "post" in ops]

    assert posts
    for post in posts:
        names = [p["name"] for p in post.get("parameters", []) if p["in"] == "header"]
        assert names.count("Idempotency-Key") == 1, post["operationId"]
