"""A signature is used up only with the payload it signed: when the database does not keep the
post (an outage before the commit; the sender got a 503), the sender's retry of the very same
signed request is stored, and only a replay of a stored post is refused (docs/reliability.md)."""

import json

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from integrations import ingest
from integrations.adapters import normalize
from integrations.models import RawPayload, SignatureSeen
from tests.integrations.test_hooks import am_alert, am_body, make_source, post, signed

pytestmark = pytest.mark.django_db


class DatabaseWentAway(Exception):
    pass


def test_checking_a_signature_does_not_use_it_up(acme):
    source = make_source(acme, hmac_secret="hmac-key")
    body = json.dumps(am_body(am_alert())).encode()
    header = signed(body, "hmac-key")

    first = ingest.check_signature(source, header=header, body=body)
    second = ingest.check_signature(source, header=header, body=body)

    assert first == second == header.split("v1=")[1]
    with scopes_disabled():
        assert not SignatureSeen.objects.exists()


def test_a_post_the_database_lost_can_be_retried_with_the_same_signature(acme):
    source = make_source(acme, hmac_secret="hmac-key")
    body = json.dumps(am_body(am_alert())).encode()
    header = signed(body, "hmac-key")
    matched = ingest.check_signature(source, header=header, body=body)

    def store_then_lose():
        with transaction.atomic():
            ingest.receive(
                source,
                body=body,
                content_type="application/json",
                alerts=normalize("alertmanager", json.loads(body)),
                signature=matched,
            )
            raise DatabaseWentAway  # before the commit: nothing of the post was kept

    with pytest.raises(DatabaseWentAway):
        store_then_lose()

    retry = post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": header})
    replay = post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": header})

    assert retry.status_code == 202
    assert replay.status_code == 401
    assert "replay" in replay.json()["error"]
    with scopes_disabled():
        assert RawPayload.objects.count() == 1
        assert SignatureSeen.objects.count() == 1
