"""A local stand-in for PagerDuty's Events API v2 (`POST /v2/enqueue`), speaking its real
shapes: 202 {"status": "success", "message": "Event processed", "dedup_key": …}; 400
{"status": "invalid event", "message": "Event object is invalid", "errors": [...]} for an
event it would refuse; and whatever status the test scripts (429, 5xx) before those.

It also keeps PagerDuty's alert state per dedup_key, so a test can count pages: a trigger on
an open alert is appended to it (no new page), a resolve closes it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEVERITIES = {"critical", "error", "warning", "info"}


def problems(event) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    if len(event.get("routing_key") or "") != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    if action == "trigger":
        payload = event.get("payload") or {}
        for field in ("summary", "source", "severity"):
            if not payload.get(field):
                errors.append(f"'payload.{field}' is missing or blank")
        if payload.get("severity") and payload["severity"] not in SEVERITIES:
            errors.append("'payload.severity' is invalid")
        if len(payload.get("summary") or "") > 1024:
            errors.append("'payload.summary' is too long")
    elif not event.get("dedup_key"):
        errors.append("'dedup_key' is missing or blank")
    return errors


class EventsApi:
    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[int] = []  # statuses to answer first, one per request
        self.pages = 0  # alerts PagerDuty opened (what would phone someone)
        self.open: set[str] = set()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                api.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                status, answer = api.answer(self.path, raw)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, raw: bytes) -> tuple[int, dict]:
        if self.script:
            status = self.script.pop(0)
            if status == 429:
                return 429, {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly.  "
                    "Please retry later.",
                }
            return status, {"status": "error", "message": "Internal error"}
        if path != "/v2/enqueue":
            return 404, {"status": "not found"}
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["Invalid JSON"],
            }
        if errors := problems(event):
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
        key = event.get("dedup_key")
        if event["event_action"] == "trigger" and key not in self.open:
            self.open.add(key)
            self.pages += 1
        if event["event_action"] == "resolve":
            self.open.discard(key)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}

    def events(self) -> list[dict]:
        return [json.loads(r["raw"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
