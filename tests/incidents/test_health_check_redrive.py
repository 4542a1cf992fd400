"""A health check whose Celery message never left (broker down) or was lost is not lost: the
request still succeeds and the sweep runs the check later (docs/reliability.md)."""

import datetime
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from incidents import services
from incidents.models import Verification
from incidents.tasks import run_health_check_task
from tests.incidents.factories import ServiceFactory, declare

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("acme_scope")]


@pytest.fixture
def healthy_url():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — http.server's naming
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"fine")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


@pytest.fixture
def broker_down(monkeypatch):
    """The broker refusing every message (what kombu raises when Redis is not there)."""

    def refuse(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(run_health_check_task, "delay", refuse)


def _start(organization, actor, url):
    service = ServiceFactory(organization=organization, health_check_url=url)
    incident = declare(organization, actor, primary_service=service)
    return services.verification_start_health_check(incident=incident, actor=actor)


def test_a_broker_outage_does_not_fail_starting_a_check(
    acme, responder, healthy_url, broker_down, django_capture_on_commit_callbacks, caplog
):
    with django_capture_on_commit_callbacks(execute=True):
        verification = _start(acme, responder, healthy_url)

    assert Verification.objects.get(pk=verification.pk).status == Verification.Status.PENDING
    assert "the sweep will run it" in caplog.text


def test_the_sweep_runs_checks_left_pending_and_only_those(acme, responder, healthy_url):
    old = _start(acme, responder, healthy_url)
    Verification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=2)
    )
    fresh = _start(acme, responder, healthy_url)  # its own message may still be on its way

    assert services.verification_sweep_health_checks() == 1
    assert services.verification_sweep_health_checks() == 0

    assert Verification.objects.get(pk=old.pk).status == Verification.Status.PASSED
    assert Verification.objects.get(pk=fresh.pk).status == Verification.Status.PENDING
