"""Fault (b): Redis stopped. Ingestion and web pages keep working (neither needs Redis); work
queued for Celery while it is down is not lost: its row in PostgreSQL is the record and the
beat's sweep sends it once Redis is back (docs/reliability.md)."""

import time

import pytest
import requests

from tests.reliability import harness
from tests.reliability.conftest import HOOK_SECRET

pytestmark = pytest.mark.reliability

TIMEOUT = 15  # seconds for any one request: longer counts as a hang


def test_redis_stopped_web_and_ingestion_work_and_queued_work_resumes(stack, sink):
    stack.query("UPDATE integrations_alertsource SET outbound_webhook_url = %s", (sink.url,))
    server = stack.gunicorn(workers=2)
    stack.worker()
    stack.beat()
    web = stack.web()
    hook = f"{server.base}/hooks/{stack.source_id()}/"
    bearer = {"Authorization": f"Bearer {HOOK_SECRET}"}

    stack.redis.stop()
    stopped = time.monotonic()
    timings = {}

    # Ingestion: stored, grouped and an incident opened, with no Redis.
    began = time.monotonic()
    posted = requests.post(
        hook,
        json={"dedup_key": "redis-down-1", "status": "firing", "title": "Disk full on db-1"},
        headers=bearer,
        timeout=TIMEOUT,
    )
    timings["webhook_s"] = time.monotonic() - began
    assert posted.status_code == 202, posted.text
    (key,) = posted.json()["incidents"]

    # People: lists and pages answer; a transition that queues an outbound webhook succeeds.
    began = time.monotonic()
    listing = web.get(f"{server.base}/o/acme/incidents/", timeout=TIMEOUT)
    detail = web.get(f"{server.base}/o/acme/incidents/{key}/", timeout=TIMEOUT)
    timings["two_pages_s"] = time.monotonic() - began
    assert listing.status_code == 200
    assert key.encode() in listing.content
    assert detail.status_code == 200
    began = time.monotonic()
    moved = web.post(
        f"{server.base}/o/acme/incidents/{key}/transition/start_investigation/",
        data={"csrfmiddlewaretoken": web.cookies["csrftoken"], "note": "looking"},
        headers={"Referer": f"{server.base}/o/acme/incidents/{key}/"},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    timings["transition_s"] = time.monotonic() - began
    assert moved.status_code in (200, 302), moved.text[:500]
    ((status,),) = stack.query("SELECT status FROM incidents_incident WHERE key = %s", (key,))
    assert status == "investigating"
    # The state webhook is recorded, not sent: the broker refused the message.
    assert stack.outbound_calls() == [("webhook", "pending", 0)]
    assert "could not queue outbound call" in server.output()

    # Operators see the broker named on the readiness probe.
    ready = requests.get(f"{server.base}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 503
    assert ready.json()["broker"].startswith("unreachable")
    assert ready.json()["database"] == "ok"
    assert sink.received == []

    down_for = time.monotonic() - stopped
    stack.redis.start()  # same port: an empty Redis, as after a crash without persistence
    restarted = time.monotonic()
    harness.wait_for(lambda: sink.received, 60, "the queued webhook sent after Redis returned")
    resumed = time.monotonic()
    harness.wait_for(
        lambda: stack.outbound_calls() == [("webhook", "sent", 1)], 15, "the call recorded sent"
    )
    assert len(sink.received) == 1
    assert sink.received[0]["body"]["incident"] == key
    assert sink.received[0]["body"]["status"] == "investigating"
    ready = requests.get(f"{server.base}/readyz", timeout=TIMEOUT)
    assert ready.status_code == 200

    figures = {
        "redis_down_s": round(down_for, 3),
        **{name: round(value, 3) for name, value in timings.items()},
        "queued_work_sent_after_redis_back_s": round(resumed - restarted, 3),
    }
    print("FIGURES redis_stopped", figures)
