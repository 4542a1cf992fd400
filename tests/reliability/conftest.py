"""Fixtures of the fault tests: one private PostgreSQL cluster for the session, migrated once
into a template database that every test copies (CREATE DATABASE … TEMPLATE takes a tenth of
a second; migrating takes ~16 s); per test a private Redis and the Vigil processes it needs.
Everything is stopped by PID (or by its own data directory) in finalisers, even on failure."""

import contextlib
import json
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import requests

from tests.reliability import harness

TEMPLATE = "vigil_fault_template"
HOOK_SECRET = "fault-tests-hook-secret-0123456789abcdef"  # noqa: S105 — throwaway
WEB_EMAIL = "responder@fault.test"

# Run once in the template: an organisation, a responder, a generic alert source with a known
# secret whose outbound state webhook points at the test's sink (a placeholder URL here; each
# test sets its own).
SEED = f"""
from django_scopes import scopes_disabled
from integrations.models import AlertSource
from tenancy.models import Membership, Organization, User
from tenancy.roles import Role

with scopes_disabled():
    org = Organization.objects.create(name="Acme", slug="acme", key_prefix="ACME", timezone="UTC")
    user = User.objects.create_user(email={WEB_EMAIL!r}, password="unused-" + "p" * 20)
    Membership.objects.create(organization=org, user=user, role=Role.RESPONDER)
    source = AlertSource(organization=org, name="faults", kind="generic")
    source.set_secret({HOOK_SECRET!r})
    source.save()
"""

SESSION = f"""
from django.test import Client
from tenancy.models import User
client = Client()
client.force_login(User.objects.get(email={WEB_EMAIL!r}))
print(client.cookies["sessionid"].value)
"""


class Cluster:
    def __init__(self):
        self.pg = harness.PrivatePostgres()
        self.copies = 0

    def ensure_running(self) -> None:
        if not self.pg.running:
            self.pg.start()

    def database(self) -> str:
        """A fresh, migrated and seeded database of its own for one test: its URL."""
        self.ensure_running()
        self.copies += 1
        return self.pg.copy(TEMPLATE, f"vigil_fault_{self.copies}")


@pytest.fixture(scope="session")
def cluster():
    missing = [
        tool for tool in (str(harness.PG_BIN / "initdb"), "redis-server") if not shutil.which(tool)
    ]
    if missing:
        pytest.fail(
            f"The fault tests need {', '.join(missing)}: apt-get install -y postgresql-15 "
            "redis-server (the servers they start are their own; the shared ones are not touched)."
        )
    made = Cluster()
    try:
        made.pg.start()
        with made.pg.connect() as conn:
            conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        env = harness.vigil_env(made.pg.url(TEMPLATE), "redis://127.0.0.1:1/0")
        harness.manage(env, "migrate", "--no-input", timeout=300)
        harness.python(env, SEED)
        yield made
    finally:
        made.pg.destroy()


class Stack:
    """A test's private Redis and Vigil processes; stop() ends every one of them."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.logdir = Path(tempfile.mkdtemp(prefix="vigil-fault-logs-"))
        self.database_url = cluster.database()
        self.redis = harness.PrivateRedis(self.logdir).start()
        self.procs: list[harness.Proc] = [self.redis]
        self.env = harness.vigil_env(self.database_url, self.redis.url)

    def gunicorn(self, workers: int = 2) -> harness.Gunicorn:
        server = harness.Gunicorn(self.env, self.logdir, workers)
        self.procs.append(server)
        return server.start()

    def worker(self) -> harness.CeleryWorker:
        worker = harness.CeleryWorker(self.env, self.logdir)
        self.procs.append(worker)
        return worker.start()

    def beat(self) -> harness.Proc:
        beat = harness.Proc(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.logdir / "beat-schedule"),
            ],  # fmt: skip
            self.env,
            self.logdir,
        )
        self.procs.append(beat)
        return beat.start()

    def db(self):
        return psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)

    def query(self, sql: str, params=()) -> list[tuple]:
        with self.db() as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def session_cookie(self) -> str:
        return harness.python(self.env, SESSION).strip().splitlines()[-1]

    def source_id(self) -> str:
        return self.query("SELECT public_id FROM integrations_alertsource WHERE name = 'faults'")[
            0
        ][0]

    def web(self) -> requests.Session:
        """A browser stand-in, logged in as the organisation's responder."""
        session = requests.Session()
        session.cookies.set("sessionid", self.session_cookie())
        return session

    def transition(self, web: requests.Session, base: str, key: str, name: str):
        """A responder's transition, posted from the incident page as a browser does."""
        page = web.get(f"{base}/o/acme/incidents/{key}/", timeout=15)
        assert page.status_code == 200
        return web.post(
            f"{base}/o/acme/incidents/{key}/transition/{name}/",
            data={"csrfmiddlewaretoken": web.cookies["csrftoken"]},
            timeout=15,
            allow_redirects=False,
        )

    def post_alert(self, base: str, dedup_key: str) -> requests.Response:
        return requests.post(
            f"{base}/hooks/{self.source_id()}/",
            json={"dedup_key": dedup_key, "status": "firing", "title": f"Alert {dedup_key}"},
            headers={"Authorization": f"Bearer {HOOK_SECRET}"},
            timeout=15,
        )

    def outbound_calls(self) -> list[tuple]:
        return self.query(
            "SELECT kind, status, attempts FROM integrations_outboundcall ORDER BY id"
        )

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-2500:]}" for p in self.procs)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            # Throwaway processes and data: no warm shutdown to wait for. A process that is
            # gone already (ProcessLookupError) must not keep the others running.
            with contextlib.suppress(OSError):
                proc.kill()
        shutil.rmtree(self.logdir, ignore_errors=True)


@pytest.fixture
def stack(cluster):
    made = Stack(cluster)
    try:
        yield made
    finally:
        made.stop()
        cluster.ensure_running()  # a test that failed mid-outage leaves the cluster usable


class Sink:
    """A local HTTP receiver for Vigil's outbound webhooks. It records every request it reads,
    and keeps the next `holds` requests open (no answer) until `release` is set."""

    def __init__(self):
        self.received: list[dict] = []
        self.holds = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.arrived = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {"body": json.loads(body or b"null"), "headers": dict(self.headers)}
                with sink.lock:
                    sink.received.append(record)
                    held = sink.holds > 0
                    sink.holds -= held
                sink.arrived.set()
                if held:
                    sink.release.wait(30)
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the caller died while it was held

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/vigil"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold_next(self) -> None:
        with self.lock:
            self.holds = 1
        self.release.clear()
        self.arrived.clear()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    made = Sink()
    try:
        yield made
    finally:
        made.close()
