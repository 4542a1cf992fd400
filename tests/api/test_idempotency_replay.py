"""`Idempotency-Key` replays answer as the user may see the object now (review finding 4): no
response body is stored, a replay after access was revoked is a 404, masking applies as it is at
replay time, and a claim whose worker died is taken over after a minute."""

import datetime

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import IdempotencyRecord
from compliance import unmask
from compliance.models import Unmask
from incidents import services
from incidents.models import Incident, TimelineEvent
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.api.resources_support import EMAIL, MASKED
from tests.incidents.factories import declare

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_broker")]

LIST = "/api/v1/incidents/"


def records():
    with scopes_disabled():
        return list(IdempotencyRecord.objects.order_by("pk").values())


def comments(incident):
    with scopes_disabled():
        return TimelineEvent.objects.filter(
            incident=incident, kind=TimelineEvent.Kind.COMMENT
        ).count()


@pytest.fixture
def secret(acme, people):
    """A restricted incident the manager has been granted."""
    admin = people[Role.ADMIN].user
    incident = declare(acme, admin, title="Card data exposure", is_restricted=True)
    with org_scope(acme):
        services.incident_grant_access(
            incident=incident, actor=people[Role.ADMIN].user, user=people[Role.MANAGER].user
        )
    return incident


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("comments/", {"text": "Rotating keys"}, 201),
        ("transitions/start_investigation/", {}, 200),
    ],
    ids=["comment", "transition"],
)
def test_a_replay_after_the_grant_was_revoked_is_a_404(as_role, people, secret, path, body, status):
    manager = as_role(Role.MANAGER)
    url = f"/api/v1/incidents/{secret.key}/{path}"
    first = manager.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    assert first.status_code == status
    assert manager.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="probe").status_code == (
        status
    )

    with org_scope(secret.organization):
        services.incident_revoke_access(
            incident=secret, actor=people[Role.ADMIN].user, user=people[Role.MANAGER].user
        )
    read = manager.get(f"/api/v1/incidents/{secret.key}/")
    replay = manager.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="probe")

    assert read.status_code == 404
    assert replay.status_code == 404
    assert replay.json()["code"] == "not_found"
    assert "Card data" not in replay.content.decode()
    assert comments(secret) == (1 if path == "comments/" else 0)


def test_no_body_is_stored_and_a_replay_masks_as_it_is_now(as_role, people, acme):
    incident = declare(acme, people[Role.RESPONDER].user, title="Checkout fails")
    admin = people[Role.ADMIN].user
    with org_scope(acme):
        unmask.incident_unmask(incident=incident, actor=admin, reason="DSAR")
    client = as_role(Role.ADMIN)
    url = f"/api/v1/incidents/{incident.key}/comments/"
    text = f"Customer {EMAIL} called"

    first = client.post(url, {"text": text}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    assert first.status_code == 201
    assert first.json()["message"] == text  # revealed: unmasked
    (record,) = records()
    assert EMAIL not in str(record)
    assert "called" not in str(record)
    assert record["status_code"] == 201
    assert record["object_id"] == first.json()["id"]

    with scopes_disabled():
        past = timezone.now() - datetime.timedelta(hours=1)
        Unmask.objects.update(created_at=past - datetime.timedelta(hours=1), expires_at=past)
    replay = client.post(url, {"text": text}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["message"] == f"Customer {MASKED} called"
    assert comments(incident) == 1


def test_a_replayed_incident_shows_its_current_state(as_role, acme):
    client = as_role(Role.RESPONDER)
    first = client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    key = first.json()["key"]
    client.patch(f"/api/v1/incidents/{key}/", {"version": 1, "title": "Up"}, format="json")

    replay = client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert replay.status_code == 201
    assert replay["Location"] == first["Location"]
    assert replay.json()["key"] == key
    assert replay.json()["title"] == "Up"


def _claim_left_behind(client, age):
    """A status-less claim for `POST {"title": "Down"}` with key "k", `age` old: a worker that
    died between claim and finish. Its request hash is taken from a real request."""
    client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="template")
    with scopes_disabled():
        template = IdempotencyRecord.objects.get(key="template")
        IdempotencyRecord.objects.create(
            organization=template.organization,
            user=template.user,
            key="k",
            request_hash=template.request_hash,
            created_at=timezone.now() - age,
        )


def test_a_claim_abandoned_for_a_minute_is_taken_over(as_role, acme):
    client = as_role(Role.RESPONDER)
    _claim_left_behind(client, datetime.timedelta(seconds=61))

    response = client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["key"] == response.json()["key"]
    with scopes_disabled():
        assert Incident.objects.filter(organization=acme).count() == 2  # template + this one
        assert IdempotencyRecord.objects.get(key="k").status_code == 201


def test_a_recent_claim_is_still_in_progress(as_role, acme):
    client = as_role(Role.RESPONDER)
    _claim_left_behind(client, datetime.timedelta(seconds=10))

    response = client.post(LIST, {"title": "Down"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    with scopes_disabled():
        assert Incident.objects.filter(organization=acme).count() == 1


def test_an_overtaken_worker_neither_records_nor_releases_the_new_claim(as_role, acme):
    from rest_framework.response import Response

    from api import idempotency

    client = as_role(Role.RESPONDER)
    _claim_left_behind(client, datetime.timedelta(seconds=61))
    with scopes_disabled():
        dead = IdempotencyRecord.objects.get(key="k")  # the dead worker's claim
        # Taken over by a retry that is still running (what `claim` does to an abandoned row).
        IdempotencyRecord.objects.filter(pk=dead.pk).update(created_at=timezone.now())

        idempotency.finish(dead, Response({"code": "x"}, status=400), None)
        idempotency.release(dead)

        record = IdempotencyRecord.objects.get(key="k")
    assert (record.status_code, record.error_body) == (None, None)
