"""People in acme, a fake Slack on 127.0.0.1, and Celery in eager mode (the real worker has
its own test)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_scopes import scopes_disabled

from incidents.channels.models import ChannelSettings

TOKEN = "xoxb-1111-2222-secretsecretsecret"


@pytest.fixture
def eager_celery():
    """Tasks run in the caller, so no test here sends messages to a real broker."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


class FakeSlack:
    """A stand-in for Slack's Web API: records every call, answers like Slack, and fails
    on request (`fail_next`)."""

    def __init__(self):
        self.calls: list[dict] = []
        self.failures: dict[str, list[tuple[int, dict, dict]]] = {}
        self.taken: set[str] = set()
        self.channels: dict[str, str] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                method = self.path.rsplit("/", 1)[-1]
                status, answer, headers = fake.answer(method, body, dict(self.headers))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def fail_next(
        self, method: str, *, status: int = 200, error: str = "fatal_error", headers=None
    ):
        """The next call of `method` fails: HTTP `status` with `{"ok": false, "error": …}`."""
        body = {"ok": False, "error": error}
        self.failures.setdefault(method, []).append((status, body, headers or {}))

    def methods(self) -> list[str]:
        return [call["method"] for call in self.calls]

    def answer(self, method: str, body: dict, headers: dict):
        with self.lock:
            self.calls.append({"method": method, "body": body, "headers": headers})
            if self.failures.get(method):
                return self.failures[method].pop(0)
            if method == "auth.test":
                return (
                    200,
                    {"ok": True, "team": "Acme HQ", "team_id": "T0ACME", "user": "vigil"},
                    {},
                )
            if method == "conversations.create":
                name = body.get("name", "")
                if name in self.taken:
                    return 200, {"ok": False, "error": "name_taken"}, {}
                self.taken.add(name)
                channel_id = f"C{len(self.channels) + 100}"
                self.channels[channel_id] = name
                return 200, {"ok": True, "channel": {"id": channel_id, "name": name}}, {}
            if method == "conversations.invite":
                return 200, {"ok": True, "channel": {"id": body.get("channel")}}, {}
            if method == "chat.postMessage":
                return (
                    200,
                    {"ok": True, "channel": body.get("channel"), "ts": "1700000000.0001"},
                    {},
                )
            return 200, {"ok": False, "error": "unknown_method"}, {}


@pytest.fixture
def fake_slack():
    fake = FakeSlack()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def configure(org, **fields) -> ChannelSettings:
    with scopes_disabled():
        settings, _ = ChannelSettings.objects.update_or_create(organization=org, defaults=fields)
        return settings


@pytest.fixture
def slack_on(acme, fake_slack, eager_celery):
    """acme: a war room for everything, Slack for SEV-1/SEV-2 with two invitees."""
    return configure(
        acme,
        war_room_level=9,
        slack_level=2,
        slack_token=TOKEN,
        slack_base_url=fake_slack.base_url,
        slack_channel_prefix="inc-",
        slack_invitees="U0AAA1,U0BBB2",
        slack_team_id="T0ACME",
    )
