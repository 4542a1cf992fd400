"""Fault (c): a Celery worker SIGKILLed in the middle of a task (an outbound state webhook held
open by the receiver). The work is done exactly once after a worker runs again: the call's row
is claimed with SELECT … FOR UPDATE in the transaction that records its outcome, so a killed
attempt leaves it pending, and any later copy of the message finds it sent and does nothing.
"Exactly once" here means: Vigil records one sent call with one attempt; the receiver may see
the interrupted attempt too, with the same Idempotency-Key (docs/reliability.md)."""

import json
import os
import signal
import time

import pytest
import redis

from tests.reliability import harness

pytestmark = pytest.mark.reliability


def _redeliver_unacked(redis_url: str, task: str) -> int:
    """What Redis does with a dead worker's message once its visibility timeout (an hour)
    has passed: put it back on its queue. Done at once here."""
    client = redis.Redis.from_url(redis_url)
    moved = 0
    for tag, value in client.hgetall("unacked").items():
        message, _exchange, routing_key = json.loads(value)
        if message["headers"]["task"] != task:
            continue
        client.lpush(routing_key or "celery", json.dumps(message))
        client.hdel("unacked", tag)
        client.zrem("unacked_index", tag)
        moved += 1
    client.close()
    return moved


def test_worker_killed_mid_task_the_work_completes_exactly_once(stack, sink):
    stack.query("UPDATE integrations_alertsource SET outbound_webhook_url = %s", (sink.url,))
    server = stack.gunicorn(workers=1)
    worker = stack.worker()
    web = stack.web()
    keys = [stack.post_alert(server.base, f"kill-{n}").json()["incidents"][0] for n in (1, 2)]
    figures = {}

    # 1. The pool child dies mid-call; the worker's main process survives and, with acks_late
    #    and reject_on_worker_lost, puts the message back on the queue at once.
    sink.hold_next()
    assert stack.transition(web, server.base, keys[0], "start_investigation").status_code == 302
    harness.wait_for(sink.arrived.is_set, 30, "the outbound call to reach the receiver")
    (child,) = worker.children()
    os.kill(child, signal.SIGKILL)
    killed = time.monotonic()
    sink.release.set()
    harness.wait_for(
        lambda: stack.outbound_calls() == [("webhook", "sent", 1)], 60, "the call sent again"
    )
    figures["child_killed_to_sent_s"] = round(time.monotonic() - killed, 3)
    assert worker.alive
    assert "WorkerLostError" in worker.output()
    first, again = sink.received
    assert first["body"] == again["body"]
    assert first["headers"]["Idempotency-Key"] == again["headers"]["Idempotency-Key"]

    # 2. The whole worker dies mid-call (main process and child): its message stays unacked in
    #    Redis for the visibility timeout. A new worker and the beat's sweep send the call.
    sink.hold_next()
    assert stack.transition(web, server.base, keys[1], "start_investigation").status_code == 302
    harness.wait_for(sink.arrived.is_set, 30, "the second call to reach the receiver")
    worker.kill(signal.SIGKILL)
    killed = time.monotonic()
    sink.release.set()
    assert stack.outbound_calls()[1] == ("webhook", "pending", 0)
    restarted = stack.worker()
    stack.beat()
    harness.wait_for(
        lambda: stack.outbound_calls()[1] == ("webhook", "sent", 1), 60, "the sweep sends it"
    )
    figures["worker_killed_to_sent_by_sweep_s"] = round(time.monotonic() - killed, 3)
    assert len(sink.received) == 4

    # 3. The dead worker's message comes back (Redis redelivers it after the visibility
    #    timeout): the call is sent already, so the task does nothing.
    assert _redeliver_unacked(stack.redis.url, "integrations.tasks.send_outbound_task") == 1
    harness.wait_for(lambda: "'not claimable'" in restarted.output(), 30, "the redelivery handled")
    assert len(sink.received) == 4
    assert stack.outbound_calls() == [("webhook", "sent", 1), ("webhook", "sent", 1)]
    print("FIGURES worker_killed", figures)
