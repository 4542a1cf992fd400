"""Calls back to the senders — an Alertmanager silence while acknowledged, expired on
resolve; a signed state webhook — against a local HTTP server standing in for them; and
heartbeats that go silent."""

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import services
from incidents.models import Incident
from integrations import ingest, outbound
from integrations.models import AlertGroup, OutboundCall
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.integrations.test_hooks import SECRET, am_alert, am_body, make_source, post

pytestmark = pytest.mark.django_db


class Recorder:
    """A tiny HTTP server that records what it is sent and answers as told."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.answer = {"silenceID": "sil-123"}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                payload = json.dumps(recorder.answer).encode()
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def remote():
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
def responder(acme, make_member):
    return make_member(acme, Role.RESPONDER).user


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """The calls are sent by `outbound.send` in the test; queueing is observed, not needed."""
    from integrations import tasks

    monkeypatch.setattr(tasks.send_outbound_task, "delay", lambda *args: None)


def opened_incident(acme, source):
    post(source, am_body(am_alert(service="checkout")))
    with scopes_disabled():
        return Incident.objects.get(organization=acme)


def move(incident, name, actor, **kwargs):
    with org_scope(incident.organization_id):
        incident = Incident.objects.get(pk=incident.pk)
        return services.incident_transition(incident=incident, name=name, actor=actor, **kwargs)


def send_all():
    with scopes_disabled():
        ids = list(
            OutboundCall.objects.filter(status="pending").values_list("pk", "organization_id")
        )
    for pk, org_id in ids:
        with org_scope(org_id):
            outbound.send(call=OutboundCall.objects.get(pk=pk))


def calls(**filters):
    with scopes_disabled():
        return list(OutboundCall.objects.filter(**filters).order_by("pk"))


def test_acknowledging_silences_the_alerts_and_resolving_expires_the_silence(
    acme, remote, responder
):
    source = make_source(acme, alertmanager_api_url=remote.url)
    incident = opened_incident(acme, source)
    with org_scope(acme):
        services.incident_update(
            incident=incident, actor=responder, changes={"commander": responder}
        )
    move(incident, "start_investigation", responder)
    send_all()
    [create] = remote.requests
    assert (create["method"], create["path"]) == ("POST", "/api/v2/silences")
    silence = json.loads(create["body"])
    assert {
        "name": "alertname",
        "value": "HighErrorRate",
        "isRegex": False,
        "isEqual": True,
    } in silence["matchers"]
    assert silence["comment"] == f"{incident.key} acknowledged in Vigil"
    assert calls(kind="silence_create")[0].silence_id == "sil-123"

    with org_scope(acme):
        services.incident_update(
            incident=Incident.objects.get(pk=incident.pk),
            actor=responder,
            changes={"resolution_summary": "Rolled back", "root_cause_category": "code_change"},
        )
        verification = services.verification_request_confirmation(
            incident=incident, actor=responder, confirmer=responder
        )
        services.verification_confirm(verification=verification, actor=responder, passed=True)
    move(incident, "resolve", responder)
    send_all()
    assert (remote.requests[1]["method"], remote.requests[1]["path"]) == (
        "DELETE",
        "/api/v2/silence/sil-123",
    )


def test_a_failing_call_is_retried_with_backoff_then_failed_and_the_incident_is_untouched(
    acme, remote, responder
):
    remote.status = 500
    source = make_source(acme, outbound_webhook_url=remote.url + "/state")
    incident = opened_incident(acme, source)
    move(incident, "dismiss", responder, note="test alert")
    [call] = calls()
    now = timezone.now()
    for attempt in range(1, 7):
        with org_scope(acme):
            result = outbound.send(call=call, now=now)
        assert result.attempts == attempt
        if attempt < 6:
            assert result.status == "pending"
            assert result.next_attempt_at - now == outbound.backoff(attempt)
            assert outbound.sweep(now=now) == 0  # not due yet
            now = result.next_attempt_at
    assert calls()[0].status == "failed"
    assert "HTTP 500" in calls()[0].last_error
    with scopes_disabled():
        assert Incident.objects.get(pk=incident.pk).status == "dismissed"


def test_the_state_webhook_is_signed_like_inbound_calls(acme, remote, responder):
    source = make_source(
        acme, outbound_webhook_url=remote.url + "/state", outbound_secret="out-key"
    )
    incident = opened_incident(acme, source)
    move(incident, "dismiss", responder, note="test alert")
    send_all()
    [request] = remote.requests
    body = json.loads(request["body"])
    assert body["incident"] == incident.key
    assert body["status"] == "dismissed"
    stamp, signature = (
        part.split("=", 1)[1] for part in request["headers"]["X-Vigil-Signature"].split(",")
    )
    expected = hmac.new(
        b"out-key", f"{stamp}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)


def test_the_same_transition_queues_each_call_once(acme, remote, responder):
    source = make_source(acme, outbound_webhook_url=remote.url)
    incident = opened_incident(acme, source)
    move(incident, "dismiss", responder, note="test alert")
    with org_scope(acme):
        outbound.on_transition(
            incident=Incident.objects.get(pk=incident.pk), previous="reported", target="dismissed"
        )
    assert len(calls()) == 1


def test_a_silent_heartbeat_opens_an_incident_and_a_ping_resolves_its_group(acme):
    source = make_source(acme, kind="heartbeat", heartbeat_minutes=5, name="prometheus")
    assert ingest.check_heartbeats() == 0
    later = timezone.now() + dt.timedelta(minutes=6)
    assert ingest.check_heartbeats(now=later) == 1
    assert ingest.check_heartbeats(now=later + dt.timedelta(minutes=1)) == 0, "only once"
    with scopes_disabled():
        incident = Incident.objects.get(organization=acme)
        assert incident.title == "Monitoring source prometheus silent"
    from django.test import Client

    ping = Client().post(
        f"/hooks/{source.public_id}/heartbeat", HTTP_AUTHORIZATION="Bearer " + SECRET
    )
    assert ping.status_code == 202
    with scopes_disabled():
        group = AlertGroup.objects.get(fingerprint=f"heartbeat:{source.pk}")
    assert group.status == "resolved"


def test_a_heartbeat_needs_the_secret(acme):
    from django.test import Client

    source = make_source(acme, kind="heartbeat", heartbeat_minutes=5)
    assert Client().post(f"/hooks/{source.public_id}/heartbeat").status_code == 401
