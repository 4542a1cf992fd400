"""Fault (a): PostgreSQL restarted under a stream of webhook posts. Senders get 503 with
Retry-After while it is down (never a 500, never a hang); every 202 is stored exactly once;
the sender's retries of the 503s land afterwards, without duplicates (docs/reliability.md)."""

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.reliability import harness
from tests.reliability.conftest import HOOK_SECRET

pytestmark = pytest.mark.reliability

SENDERS = 4
GROUPS = 10  # an alert storm: many posts, a few alert groups (and incidents)
PACE = 0.1  # seconds between one sender's posts: ~40 posts/s in all, a busy Alertmanager
REQUEST_TIMEOUT = 10  # seconds: an answer later than this counts as a hang
OUTAGE_SECONDS = 2.5  # how long the stream keeps posting while PostgreSQL is down


STORED = "SELECT labels->>'seq', count(*) FROM integrations_alert GROUP BY 1"


class Stream:
    """SENDERS threads posting one alert each per request, paced, until told to stop. Every
    post carries its own sequence number (label `seq`), so each can be found in the store."""

    def __init__(self, url: str):
        self.url = url
        self.numbers = itertools.count()
        self.results: list[dict] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def post(self, number: int) -> dict:
        sent = time.monotonic()
        result = {"n": number, "sent": sent}
        try:
            response = requests.post(
                self.url,
                json={
                    "dedup_key": f"pg-{number % GROUPS}",
                    "status": "firing",
                    "title": f"Database fault {number % GROUPS}",
                    "labels": {"seq": str(number)},
                },
                headers={"Authorization": f"Bearer {HOOK_SECRET}"},
                timeout=REQUEST_TIMEOUT,
            )
            result.update(
                status=response.status_code, retry_after=response.headers.get("Retry-After")
            )
        except requests.RequestException as error:
            result.update(status=None, error=type(error).__name__)
        result["answered"] = time.monotonic()
        return result

    def sender(self) -> None:
        with requests.Session():
            while not self.done.is_set():
                result = self.post(next(self.numbers))
                with self.lock:
                    self.results.append(result)
                self.done.wait(PACE)

    def count_since(self, moment: float, status: int) -> int:
        with self.lock:
            return sum(1 for r in self.results if r["sent"] >= moment and r["status"] == status)


def test_postgres_restart_during_webhook_stream(stack):
    server = stack.gunicorn(workers=2)
    url = f"{server.base}/hooks/{stack.source_id()}/"
    page = f"{server.base}/o/acme/incidents/"
    cookies = {"sessionid": stack.session_cookie()}
    stream = Stream(url)
    pool = ThreadPoolExecutor(SENDERS)
    futures = [pool.submit(stream.sender) for _ in range(SENDERS)]
    pg = stack.cluster.pg
    try:
        began = time.monotonic()
        harness.wait_for(lambda: stream.count_since(began, 202) >= 20, 30, "20 stored")
        stop_called = time.monotonic()
        pg.stop("fast")
        stopped = time.monotonic()
        # The outage itself: the stream keeps posting against a stopped database; a person
        # opening a page meanwhile is told to retry too.
        html = requests.get(page, cookies=cookies, timeout=REQUEST_TIMEOUT, allow_redirects=False)
        ready = requests.get(f"{server.base}/readyz", timeout=REQUEST_TIMEOUT)
        harness.wait_for(lambda: time.monotonic() - stopped >= OUTAGE_SECONDS, 10, "outage")
        start_called = time.monotonic()
        pg.start()
        started = time.monotonic()
        harness.wait_for(lambda: stream.count_since(started, 202) >= 20, 30, "20 after")
        html_after = requests.get(page, cookies=cookies, timeout=REQUEST_TIMEOUT)
    finally:
        stream.done.set()
        for future in futures:
            future.result(timeout=REQUEST_TIMEOUT + 5)
        pool.shutdown()
        stack.cluster.ensure_running()

    assert ready.status_code == 503  # what a load balancer or an operator sees
    assert ready.json()["database"].startswith("unreachable")
    assert ready.json()["broker"] == "ok"
    assert html.status_code == 503, html.content[:500]
    assert html.headers["Retry-After"] == "30"
    assert b"briefly unavailable" in html.content
    assert html_after.status_code == 200, stack.logs()
    assert b"Incidents" in html_after.content

    results = stream.results
    statuses = Counter(r["status"] for r in results)
    assert not [r for r in results if r["status"] is None], f"hung or failed: {statuses}"
    assert set(statuses) <= {202, 429, 503}, f"unexpected statuses {statuses}\n{stack.logs()}"
    refused = [r for r in results if r["status"] != 202]
    assert refused, "no request met the outage"
    assert all(r["retry_after"] for r in refused), "a 503/429 without Retry-After"

    # Persistent connections broken by the restart poison nothing: once one post is stored
    # again, every later one is (CONN_HEALTH_CHECKS).
    first = min(r["answered"] for r in results if r["sent"] >= started and r["status"] == 202)
    assert {r["status"] for r in results if r["sent"] > first} == {202}

    accepted_keys = {str(r["n"]) for r in results if r["status"] == 202}
    refused_keys = {str(r["n"]) for r in refused}
    stored = dict(stack.query(STORED))
    assert {k for k in accepted_keys if stored.get(k) != 1} == set(), "a 202 lost or doubled"
    assert {k for k in refused_keys if k in stored} == set(), "a refused post was stored"

    # The sender retries what was refused (at once here; Retry-After says when).
    with ThreadPoolExecutor(SENDERS) as retry_pool:
        answers = retry_pool.map(stream.post, sorted(int(key) for key in refused_keys))
        retried = Counter(answer["status"] for answer in answers)
    assert retried == Counter({202: len(refused_keys)})
    stored = dict(stack.query(STORED))
    everything = accepted_keys | refused_keys
    assert set(stored) == everything
    assert set(stored.values()) == {1}
    ((payloads,),) = stack.query("SELECT count(*) FROM integrations_rawpayload")
    ((groups, counted),) = stack.query(
        "SELECT count(*), sum(count) FROM integrations_alertgroup WHERE status = 'firing'"
    )
    assert payloads == counted == len(everything)
    assert groups == GROUPS

    during = [r for r in results if stopped <= r["sent"] < start_called]
    after = sorted(r["answered"] for r in results if r["sent"] >= started and r["status"] == 202)
    figures = {
        "requests": len(results),
        "statuses": dict(statuses),
        "pg_ctl_stop_s": round(stopped - stop_called, 3),
        "outage_s": round(started - stop_called, 3),
        "during_outage": dict(Counter(r["status"] for r in during)),
        "slowest_answer_during_outage_s": round(max(r["answered"] - r["sent"] for r in during), 3),
        "recovery_first_202_after_start_s": round(after[0] - started, 3),
        "retried_then_stored": len(refused_keys),
    }
    print("FIGURES postgres_restart", figures)
