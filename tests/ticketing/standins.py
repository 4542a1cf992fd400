"""Local HTTP servers standing in for Jira (REST API v2) and ServiceNow (Table API), speaking
their request and answer shapes: Jira's create answer {id, key, self}, comments {id, body,
author}, transitions list and 204 on a transition, errors {errorMessages, errors};
ServiceNow's {"result": {...}} with sys_id and number, `sysparm_query`, errors
{"error": {"message", "detail"}, "status": "failure"}. Loopback only."""

import base64
import json
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn:
    """Records every request; `script` holds statuses to answer (in order) before behaving
    normally, e.g. [503] answers the next request with a 503; `lose_answer` creates the
    ticket but answers 503, as if the answer was lost on the way back."""

    def __init__(self, expected_auth: str):
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.lose_answer = 0
        # An address to send every request on to (307, keeping method and body), as a
        # hostile or misconfigured server would.
        self.redirect_to = ""
        self.expected_auth = expected_auth
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                request = {
                    "method": self.command,
                    "path": parsed.path,
                    "query": urllib.parse.parse_qs(parsed.query),
                    "headers": dict(self.headers),
                    "json": json.loads(raw) if raw else None,
                }
                with stand_in.lock:
                    stand_in.requests.append(request)
                    status, answer, headers = stand_in.respond(request)
                payload = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = _handle  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def respond(self, request):
        if self.redirect_to:
            return 307, None, {"Location": self.redirect_to + request["path"]}
        if request["headers"].get("Authorization") != self.expected_auth:
            return self.unauthorized()
        if self.script:
            status = self.script.pop(0)
            return status, self.error_body(status, "Scripted failure"), {}
        return self.handle(request)

    def made(self, method: str, pattern: str) -> list[dict]:
        return [
            r for r in self.requests if r["method"] == method and re.fullmatch(pattern, r["path"])
        ]


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class FakeJira(StandIn):
    TRANSITIONS = [
        {"id": "11", "name": "To Do", "to": {"name": "To Do", "id": "10000"}},
        {"id": "21", "name": "In Progress", "to": {"name": "In Progress", "id": "3"}},
        {"id": "31", "name": "Done", "to": {"name": "Done", "id": "10001"}},
    ]

    def __init__(self, expected_auth: str, cloud: bool = True):
        super().__init__(expected_auth)
        # Cloud removed GET /rest/api/2/search (410 Gone) for /search/jql; Data Center has
        # only the classic search.
        self.cloud = cloud
        self.issues: dict[str, dict] = {}
        self.comments: dict[str, list] = {}
        self.next_id = 10000

    def unauthorized(self):
        return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}

    def error_body(self, status, message):
        return {"errorMessages": [f"{message} ({status})"], "errors": {}}

    def handle(self, request):
        path, body = request["path"], request["json"] or {}
        if request["method"] == "POST" and path == "/rest/api/2/issue":
            fields = body.get("fields") or {}
            errors = {}
            if not fields.get("summary"):
                errors["summary"] = "You must specify a summary of the issue."
            if (fields.get("project") or {}).get("key") != "OPS":
                errors["project"] = "valid project is required"
            if not (fields.get("issuetype") or {}).get("name"):
                errors["issuetype"] = "valid issue type is required"
            if errors:
                return 400, {"errorMessages": [], "errors": errors}, {}
            self.next_id += 1
            key = f"OPS-{len(self.issues) + 1}"
            issue = {
                "id": str(self.next_id),
                "key": key,
                "self": f"{self.url}/rest/api/2/issue/{self.next_id}",
            }
            self.issues[key] = {**issue, "fields": fields, "status": "To Do"}
            if self.lose_answer:
                self.lose_answer -= 1
                return 503, self.error_body(503, "Gateway timeout"), {}
            return 201, issue, {}
        if request["method"] == "GET" and path == "/rest/api/2/search" and self.cloud:
            message = (
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql"
                " API. A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046"
            )
            return 410, {"errorMessages": [message], "errors": {}}, {}
        if request["method"] == "GET" and path == "/rest/api/2/search/jql" and not self.cloud:
            return 404, None, {}
        if request["method"] == "GET" and path in ("/rest/api/2/search", "/rest/api/2/search/jql"):
            jql = request["query"].get("jql", [""])[0]
            wanted = re.search(r'summary ~ "\\"([^"\\]+)\\""', jql)
            found = [
                {
                    "id": i["id"],
                    "key": i["key"],
                    "self": i["self"],
                    "fields": {"summary": i["fields"]["summary"]},
                }
                for i in self.issues.values()
                if wanted and wanted.group(1) in i["fields"]["summary"]
            ]
            if path.endswith("/jql"):
                return 200, {"issues": found, "isLast": True}, {}
            return 200, {"startAt": 0, "maxResults": 10, "total": len(found), "issues": found}, {}
        match = re.fullmatch(r"/rest/api/2/issue/([^/]+)/(comment|transitions)", path)
        if not match or match.group(1) not in self.issues:
            message = "Issue does not exist or you do not have permission to see it."
            return 404, {"errorMessages": [message], "errors": {}}, {}
        key, what = match.groups()
        if what == "comment" and request["method"] == "POST":
            self.next_id += 1
            comment = {
                "id": str(self.next_id),
                "self": f"{self.url}/rest/api/2/issue/{key}/comment/{self.next_id}",
                "body": body.get("body", ""),
                "author": {"name": "vigil-bot", "displayName": "Vigil bot"},
                "created": "2026-11-27T10:00:00.000+0000",
            }
            self.comments.setdefault(key, []).append(comment)
            return 201, comment, {}
        if what == "transitions" and request["method"] == "GET":
            return 200, {"expand": "transitions", "transitions": self.TRANSITIONS}, {}
        if what == "transitions" and request["method"] == "POST":
            wanted = str((body.get("transition") or {}).get("id", ""))
            chosen = [t for t in self.TRANSITIONS if t["id"] == wanted]
            if not chosen:
                message = f"Transition id '{wanted}' is not valid for this issue."
                return 400, {"errorMessages": [message], "errors": {}}, {}
            self.issues[key]["status"] = chosen[0]["to"]["name"]
            return 204, None, {}
        return 405, {"errorMessages": ["Method not allowed"], "errors": {}}, {}


class FakeServiceNow(StandIn):
    def __init__(self, expected_auth: str):
        super().__init__(expected_auth)
        self.records: dict[str, dict] = {}

    def unauthorized(self):
        return (
            401,
            {
                "error": {
                    "message": "User Not Authenticated",
                    "detail": "Required to provide Auth information",
                },
                "status": "failure",
            },
            {},
        )

    def error_body(self, status, message):
        return {"error": {"message": message, "detail": f"HTTP {status}"}, "status": "failure"}

    def handle(self, request):
        path, body = request["path"], request["json"] or {}
        if path == "/api/now/table/incident" and request["method"] == "POST":
            if not body.get("short_description"):
                return 400, self.error_body(400, "short_description is mandatory"), {}
            sys_id = uuid.uuid4().hex
            record = {
                "sys_id": sys_id,
                "number": f"INC{10001 + len(self.records):07d}",
                "state": "1",
                "work_notes": "",
                **{k: str(v) for k, v in body.items()},
            }
            self.records[sys_id] = record
            if self.lose_answer:
                self.lose_answer -= 1
                return 503, self.error_body(503, "Service unavailable"), {}
            location = f"{self.url}/api/now/table/incident/{sys_id}"
            return 201, {"result": record}, {"Location": location}
        if path == "/api/now/table/incident" and request["method"] == "GET":
            query = request["query"].get("sysparm_query", [""])[0]
            field, _, value = query.partition("=")
            rows = [
                {"sys_id": r["sys_id"], "number": r["number"]}
                for r in self.records.values()
                if r.get(field) == value
            ]
            return 200, {"result": rows}, {}
        match = re.fullmatch(r"/api/now/table/incident/([0-9a-f]{32})", path)
        if match and request["method"] == "PATCH":
            record = self.records.get(match.group(1))
            if record is None:
                message = "Record doesn't exist or ACL restricts the record retrieval"
                return (
                    404,
                    {
                        "error": {"message": "No Record found", "detail": message},
                        "status": "failure",
                    },
                    {},
                )
            notes = body.get("work_notes", "")
            record.update({k: str(v) for k, v in body.items() if k != "work_notes"})
            record.setdefault("journal", []).append(notes)
            return 200, {"result": record}, {}
        return 400, self.error_body(400, "Requested URI does not represent any resource"), {}
