"""B-load — a mixed workload against gunicorn for 5 minutes, at two data sizes (issue 11).

    .venv/bin/python bench/b_load.py [--incidents 20000] [--duration 300] [--scale 1 10]
                                     [--quick] [--workers 5] [--users 6,2,2] [--keep]

Per data size (`--incidents` × each `--scale`), in a throwaway database `vigil_bench_load`
(dropped and re-created; BENCH_LOAD_DATABASE_NAME to change it) and Redis database 12
(BENCH_LOAD_REDIS_DB; flushed before and after):

1. **Seed** (timed): `migrate`, `seed_demo --force` (acme and globex, users, taxonomy),
   `generate_incidents --org acme --count N` and `--org globex --count N/10` (3 years, fixed
   seeds), then in SQL per generated incident 6 timeline entries (`created`, `status`,
   `comment` ×2, `field`, `status`) and, for the alert-created ones (30 %), an alert group
   with 3 alerts on one of two Alertmanager sources (created with known secrets);
   `refresh_rollups`, `VACUUM ANALYZE`.
2. **Serve**: gunicorn `config.wsgi` with `--workers` sync workers (default 2 × cores + 1 = 5),
   DEBUG=0, plus one Celery worker (`-Q celery,sla --concurrency 2`, bench.celery_app) that
   runs what the requests queue (notifications, SLA, …). Processes in their own process groups,
   stopped by their ids.
3. **Drive** for `--duration` seconds (after 10 s of warm-up that is not counted), closed loop,
   no think time (the figures are the box's capacity for this mix), Python threads with
   `requests` sessions, each virtual user logged in once through /accounts/login/ (session
   cookie + CSRF token reused):
   - responders (default 6, `responder@acme.test`): 35 % incident list with a random filter
     (none, open, a severity, a service, a text search, page 2–5), 35 % an incident page (random
     non-restricted incident), 15 % a comment, 10 % a status update on an open incident, 5 %
     the incident's timeline fragment;
   - managers (default 2, `manager@acme.test`): 70 % the reports dashboard (default filters),
     30 % the incident list filtered on open incidents;
   - webhooks (default 2): single-alert Alertmanager posts to /hooks/<id>/ with the Bearer
     secret, 90 % a fingerprint of a 200-strong pool (joins its open group), 10 % new (opens a
     group and an incident).
4. **Measure**: per endpoint count, req/s, p50/p95/p99/max ms (request sent → body read),
   errors (anything but 200/202/302, or an exception); peak RSS per process (VmHWM from
   /proc/<pid>/status, polled every second for the gunicorn and Celery process groups, plus the
   sum of VmRSS at its highest); the box's load averages before and after (the box is shared).

Writes bench/results/load-<UTC time>.json and prints a Markdown table. `--quick`: 2,000
incidents, 20 s, scale 1 only — a smoke test of the harness. `--ops`: after each drive, with
the server stopped, time `manage.py export_org acme` (size, peak RSS), scripts/backup.sh and
scripts/restore.sh; `--ops-only`: seed each size and measure only those.
"""

import argparse
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS,
    ROOT,
    Proc,
    Scratch,
    celery_worker,
    percentile,
    say,
    stop_all,
)

DATABASE_NAME = "vigil_bench_load"
REDIS_DB = 12
DUMMY_SECRET_KEY = "bench-only-dummy-secret-key-" + "y" * 40  # noqa: S105
PASSWORD = "vigil-demo-2026"  # noqa: S105 — tenancy.demo.DEMO_PASSWORD, published
WARM_UP_S = 10
POOL = 200

TIMELINE = """
INSERT INTO incidents_timelineevent (organization_id, incident_id, kind, actor_id, message,
                                     data, created_at, is_pinned, pinned_at)
SELECT i.organization_id, i.id, (ARRAY['created', 'status', 'comment', 'comment', 'field',
                                       'status'])[k],
       i.reporter_id,
       (ARRAY['Declared', 'Investigating', 'Looking at the load balancer logs first.',
              'Rolled back the last deploy; error rate dropping.', 'Service changed',
              'Mitigated'])[k],
       '{}'::jsonb, i.reported_at + interval '7 minutes' * (k - 1), false, NULL
  FROM incidents_incident i CROSS JOIN generate_series(1, 6) k
 WHERE i.id > %(after)s
"""

RAW = """
INSERT INTO integrations_rawpayload (organization_id, source_id, received_at, content_type,
                                     body, status, error, alert_count, processed_at)
SELECT organization_id, id, now() - interval '3 years', 'application/json', '{}', 'processed',
       '', 0, now() - interval '3 years'
  FROM integrations_alertsource WHERE id = ANY(%(sources)s)
RETURNING id
"""

GROUPS = """
INSERT INTO integrations_alertgroup (organization_id, source_id, fingerprint, status, title,
                                     severity, labels, first_seen, last_seen, count, incident_id,
                                     is_suppressed, suppressed_reason, resolved_at)
SELECT i.organization_id, (%(sources)s::bigint[])[1 + i.id %% 2], 'gen-' || i.id,
       CASE WHEN i.resolved_at IS NULL THEN 'firing' ELSE 'resolved' END, left(i.title, 200),
       'critical', '{"alertname": "ProbeFailure"}'::jsonb, i.detected_at,
       i.detected_at + interval '4 minutes', 3, i.id, false, '', i.resolved_at
  FROM incidents_incident i
 WHERE i.organization_id = %(org)s AND i.source = 'alert' AND i.id > %(after)s
"""

ALERTS = """
INSERT INTO integrations_alert (organization_id, source_id, raw_id, group_id, fingerprint,
                                status, title, severity, labels, annotations, description, links,
                                starts_at, ends_at, received_at, processed_at,
                                incident_linked_at, suppressed_by_id)
SELECT g.organization_id, g.source_id, r.id, g.id, g.fingerprint, 'firing', g.title,
       g.severity, g.labels, '{"summary": "Probe failure"}'::jsonb, '', '[]'::jsonb,
       g.first_seen, NULL, g.first_seen + interval '2 minutes' * (k - 1),
       g.first_seen + interval '2 minutes' * (k - 1), g.first_seen, NULL
  FROM integrations_alertgroup g
  JOIN integrations_rawpayload r ON r.source_id = g.source_id AND r.id = ANY(%(raws)s)
 CROSS JOIN generate_series(1, 3) k
 WHERE g.fingerprint LIKE 'gen-%%' AND g.incident_id > %(after)s
"""

ALERT = (
    '{"receiver":"vigil","status":"firing","alerts":[{"status":"firing","labels":'
    '{"alertname":"ProbeFailure","instance":"host-@FP@","job":"http_checks",'
    '"severity":"warning"},"annotations":{"summary":"Probe failure on host-@FP@",'
    '"description":"Instance host-@FP@ has been down for 5m."},"startsAt":"@STARTS@",'
    '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example.org:9090/graph",'
    '"fingerprint":"@FP@"}],"groupLabels":{"alertname":"ProbeFailure"},"commonLabels":{},'
    '"commonAnnotations":{},"externalURL":"http://alertmanager.example.org:9093",'
    '"version":"4","groupKey":"{}:{alertname=\\"ProbeFailure\\"}","truncatedAlerts":0}'
)


def _terminate(signum, frame):
    raise SystemExit(f"stopped by signal {signum}")


def make_scratch() -> Scratch:
    redis_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["BENCH_DATABASE_NAME"] = os.environ.get("BENCH_LOAD_DATABASE_NAME", DATABASE_NAME)
    db = int(os.environ.get("BENCH_LOAD_REDIS_DB", REDIS_DB))
    os.environ["BENCH_REDIS_URL"] = urlunsplit(urlsplit(redis_base)._replace(path=f"/{db}"))
    return Scratch()


def server_env(scratch: Scratch) -> dict:
    return scratch.env(
        DEBUG="0",
        SECRET_KEY=DUMMY_SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        STATIC_MANIFEST="0",
    )


def manage(scratch: Scratch, *args: str) -> float:
    began = time.perf_counter()
    subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_env(scratch),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    took = time.perf_counter() - began
    say(f"manage.py {' '.join(args)}: {took:.1f} s")
    return took


# — seeding ————————————————————————————————————————————————————————————————————————————


def seed(scratch: Scratch, incidents: int, state: dict) -> dict:
    """Bring acme to `incidents` incidents (globex to a tenth): the first size builds the
    database, a larger one adds the difference to it (as the data of a growing installation)."""
    from django.db import connection, connections, transaction
    from django_scopes import scopes_disabled

    from integrations.models import AlertSource
    from tenancy.models import Organization

    timings = {}
    began = time.perf_counter()
    if not state:
        connections.close_all()  # the database is dropped under this process's connection
        scratch.create_database()
        scratch.flush_redis()
        timings["migrate_s"] = round(manage(scratch, "migrate", "--no-input", "-v", "0"), 1)
        timings["seed_demo_s"] = round(manage(scratch, "seed_demo", "--force"), 1)
        hooks = []
        with scopes_disabled(), transaction.atomic():
            acme = Organization.objects.get(slug="acme")
            for n in range(2):
                secret = secrets.token_urlsafe(32)
                source = AlertSource(organization=acme, name=f"load-prom-{n}", kind="alertmanager")
                source.set_secret(secret)
                source.save()
                hooks.append(
                    {"pk": source.pk, "path": f"/hooks/{source.public_id}/", "secret": secret}
                )
        state.update(hooks=hooks, acme=0, globex=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM incidents_incident")
        after = cursor.fetchone()[0]
    for slug, wanted, rng_seed in (("acme", incidents, 1), ("globex", incidents // 10, 2)):
        more = wanted - state[slug]
        if more > 0:
            took = manage(
                scratch, "generate_incidents", "--org", slug, "--count", str(more),
                "--seed", str(rng_seed + wanted), "--force",
            )  # fmt: skip
            timings[f"generate_{slug}_s"] = round(took, 1)
            state[slug] = wanted
    with scopes_disabled():
        acme = Organization.objects.get(slug="acme")
    ids = [h["pk"] for h in state["hooks"]]
    extra = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(TIMELINE, {"after": after})
        if not state.get("raws"):  # one seeded payload per source (not the drive's posts)
            cursor.execute(RAW, {"sources": ids})
            state["raws"] = [row[0] for row in cursor.fetchall()]
        cursor.execute(GROUPS, {"sources": ids, "org": acme.pk, "after": after})
        cursor.execute(ALERTS, {"after": after, "raws": state["raws"]})
    timings["timeline_alerts_s"] = round(time.perf_counter() - extra, 1)
    hooks = state["hooks"]
    timings["refresh_rollups_s"] = round(manage(scratch, "refresh_rollups"), 1)
    vacuum = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timings["vacuum_s"] = round(time.perf_counter() - vacuum, 1)
    timings["total_s"] = round(time.perf_counter() - began, 1)
    sizes = {}
    with connection.cursor() as cursor:
        for table in (
            "incidents_incident",
            "incidents_timelineevent",
            "incidents_slatimer",
            "integrations_alertgroup",
            "integrations_alert",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 — fixed names
            sizes[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        sizes["database_mb"] = round(cursor.fetchone()[0] / 1024 / 1024)
    say(f"seeded in {timings['total_s']} s: {sizes}")
    return {"timings": timings, "rows": sizes, "hooks": hooks}


def targets() -> dict:
    """What the virtual users pick from: incident keys, open ones, filter values, URLs."""
    from django.urls import reverse
    from django_scopes import scopes_disabled

    from incidents.models import Incident
    from taxonomy.models import Service, SeverityLevel
    from tenancy.models import Organization

    with scopes_disabled():
        acme = Organization.objects.get(slug="acme")
        rows = Incident.objects.filter(organization=acme, is_restricted=False)
        keys = list(rows.values_list("key", flat=True))
        open_keys = list(
            rows.filter(status__in=["reported", "investigating", "mitigated"])
            .order_by("-reported_at")
            .values_list("key", flat=True)[:500]
        )
        severities = list(
            SeverityLevel.objects.filter(organization=acme).values_list("pk", flat=True)
        )
        services = list(Service.objects.filter(organization=acme).values_list("pk", flat=True))
    return {
        "keys": keys,
        "open_keys": open_keys,
        "severities": severities,
        "services": services,
        "list": reverse("incidents:incident_list", kwargs={"org_slug": "acme"}),
        "dashboard": reverse("reporting:dashboard", kwargs={"org_slug": "acme"}),
    }


# — the server and the processes ——————————————————————————————————————————————————————


def start_server(scratch: Scratch, port: int, workers: int) -> Proc:
    argv = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60"]
    argv += ["--log-level", "warning", "--logger-class", "config.redact.RedactingGunicornLogger"]
    server = Proc("gunicorn", argv, server_env(scratch), scratch.tmp).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not server.alive:
            raise RuntimeError(f"gunicorn exited:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"gunicorn not answering on {port}:\n{server.log()[-3000:]}")


def free_port(first: int = 8120) -> int:
    import socket

    for port in range(first, first + 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port")


class MemoryPoller(threading.Thread):
    """Every second: each process of the given process groups — its VmHWM (the kernel's own
    peak RSS) and VmRSS; keeps the highest per process and the highest sum per group."""

    def __init__(self, groups: dict[str, int]):
        super().__init__(daemon=True)
        self.groups = groups
        self.peak: dict[str, dict[int, dict]] = {name: {} for name in groups}
        self.peak_sum_rss_kb = dict.fromkeys(groups, 0)
        self.stopping = threading.Event()

    def sample(self) -> None:
        by_group = {pgid: name for name, pgid in self.groups.items()}
        sums = dict.fromkeys(self.groups, 0)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                raw = stat.read_text()
                fields = raw[raw.rindex(")") + 2 :].split()
                name = by_group.get(int(fields[2]))
                if name is None:
                    continue
                status = (stat.parent / "status").read_text()
            except (OSError, ValueError):
                continue
            values = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, re.M))
            pid = int(stat.parent.name)
            cmd = raw[raw.index("(") + 1 : raw.rindex(")")]
            hwm, rss = int(values.get("VmHWM", 0)), int(values.get("VmRSS", 0))
            seen = self.peak[name].setdefault(pid, {"cmd": cmd, "hwm_kb": 0})
            seen["hwm_kb"] = max(seen["hwm_kb"], hwm)
            sums[name] += rss
        for name, total in sums.items():
            self.peak_sum_rss_kb[name] = max(self.peak_sum_rss_kb[name], total)

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            self.sample()

    def report(self) -> dict:
        out = {}
        for name, procs in self.peak.items():
            hwms = sorted((p["hwm_kb"] for p in procs.values()), reverse=True)
            out[name] = {
                "processes": len(procs),
                "peak_rss_mb_per_process": [round(h / 1024, 1) for h in hwms],
                "peak_rss_mb_max": round(hwms[0] / 1024, 1) if hwms else None,
                "peak_sum_rss_mb": round(self.peak_sum_rss_kb[name] / 1024, 1),
            }
        return out


# — the virtual users ————————————————————————————————————————————————————————————————


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.counting = False
        self.samples: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def add(self, endpoint: str, ms: float, error: str | None) -> None:
        if not self.counting:
            return
        with self.lock:
            self.samples.setdefault(endpoint, []).append(ms)
            if error:
                self.errors.setdefault(endpoint, []).append(error)


class User(threading.Thread):
    def __init__(self, kind, base, email, t, hooks, rec, stop, rng):
        super().__init__(daemon=True)
        self.kind, self.base, self.email, self.t = kind, base, email, t
        self.hooks, self.rec, self.stop, self.rng = hooks, rec, stop, rng
        import requests

        self.http = requests.Session()
        self.csrf = ""
        self.failure = None

    def call(self, endpoint, method, path, ok=(200,), **kwargs) -> None:
        began = time.perf_counter()
        error = None
        try:
            response = self.http.request(
                method, self.base + path, allow_redirects=False, timeout=60, **kwargs
            )
            response.content  # noqa: B018 — read the whole body
            if response.status_code not in ok:
                error = f"{response.status_code} {method} {path}"
        except Exception as exc:  # noqa: BLE001 — every failure is a counted error
            error = f"{type(exc).__name__} {method} {path}"
        self.rec.add(endpoint, (time.perf_counter() - began) * 1000, error)

    def login(self) -> None:
        page = self.http.get(self.base + "/accounts/login/", timeout=30)
        page.raise_for_status()
        token = self.http.cookies.get("csrftoken")
        answer = self.http.post(
            self.base + "/accounts/login/",
            data={"username": self.email, "password": PASSWORD, "csrfmiddlewaretoken": token},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"login of {self.email} answered {answer.status_code}")
        self.csrf = self.http.cookies.get("csrftoken")

    def list_query(self) -> dict:
        t, pick = self.t, self.rng.random()
        if pick < 0.2:
            return {}
        if pick < 0.4:
            return {"status": "open"}
        if pick < 0.55:
            return {"severity": self.rng.choice(t["severities"])}
        if pick < 0.7 and t["services"]:
            return {"service": self.rng.choice(t["services"])}
        if pick < 0.85:
            return {"q": self.rng.choice(["database", "latency", "payment", "login", "DNS"])}
        return {"page": self.rng.randint(2, 5)}

    def responder(self) -> None:
        t, pick = self.t, self.rng.random()
        key = self.rng.choice(t["keys"])
        base = t["list"]
        if pick < 0.35:
            self.call("incident list (filters)", "GET", base, params=self.list_query())
        elif pick < 0.70:
            self.call("incident page", "GET", f"{base}{key}/")
        elif pick < 0.85:
            key = self.rng.choice(t["open_keys"] or t["keys"])
            data = {"text": f"Load test comment {self.rng.randint(1, 10**9)}"}
            headers = {"X-CSRFToken": self.csrf}
            self.call(
                "post comment", "POST", f"{base}{key}/comment/", (302,), data=data, headers=headers
            )
        elif pick < 0.95:
            key = self.rng.choice(t["open_keys"] or t["keys"])
            data = {"current_status": "Still investigating; next update soon.", "impact": "Slow"}
            headers = {"X-CSRFToken": self.csrf}
            self.call(
                "post status update",
                "POST",
                f"{base}{key}/updates/new/",
                (302,),
                data=data,
                headers=headers,
            )
        else:
            self.call("incident timeline", "GET", f"{base}{key}/timeline/")

    def manager(self) -> None:
        if self.rng.random() < 0.7:
            self.call("dashboard", "GET", self.t["dashboard"])
        else:
            self.call("incident list (filters)", "GET", self.t["list"], params={"status": "open"})

    def webhook(self) -> None:
        hook = self.rng.choice(self.hooks)
        if self.rng.random() < 0.1:
            fp = f"new-{secrets.token_hex(6)}"
        else:
            fp = f"pool-{self.rng.randrange(POOL)}"
        starts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = ALERT.replace("@FP@", fp).replace("@STARTS@", starts)
        headers = {
            "Authorization": f"Bearer {hook['secret']}",
            "Content-Type": "application/json",
        }
        self.call("webhook alert post", "POST", hook["path"], (202,), data=body, headers=headers)

    def run(self) -> None:
        try:
            if self.kind != "webhook":
                self.login()
            step = getattr(self, self.kind)
            while not self.stop.is_set():
                step()
        except Exception as exc:  # noqa: BLE001 — reported in the results
            self.failure = repr(exc)


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def drive(port: int, t: dict, hooks: list, users: tuple, duration: float, seed: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    rec, stop = Recorder(), threading.Event()
    rng = random.Random(seed)
    crowd = []
    for kind, count, email in zip(
        ("responder", "manager", "webhook"),
        users,
        ("responder@acme.test", "manager@acme.test", None),
        strict=True,
    ):
        for _ in range(count):
            crowd.append(User(kind, base, email, t, hooks, rec, stop, random.Random(rng.random())))
    for user in crowd:
        user.start()
    time.sleep(WARM_UP_S)  # warm-up, not counted (not a synchronisation: a fixed period)
    rec.counting = True
    began = time.perf_counter()
    time.sleep(duration)
    rec.counting = False
    elapsed = time.perf_counter() - began
    stop.set()
    for user in crowd:
        user.join(timeout=90)
    failures = [u.failure for u in crowd if u.failure]
    endpoints = {}
    total = errors = 0
    for endpoint, values in sorted(rec.samples.items()):
        values.sort()
        errs = rec.errors.get(endpoint, [])
        total += len(values)
        errors += len(errs)
        endpoints[endpoint] = {
            "requests": len(values),
            "req_s": round(len(values) / elapsed, 2),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(values[-1], 1),
            "errors": len(errs),
            "error_examples": sorted(set(errs))[:5],
        }
    return {
        "measured_s": round(elapsed, 1),
        "requests": total,
        "req_s": round(total / elapsed, 1),
        "errors": errors,
        "user_failures": failures,
        "endpoints": endpoints,
    }


def _timed(argv: list[str], env: dict) -> tuple[float, float, str]:
    """Run a command; its wall time (s), peak RSS (MB, from wait4) and standard error."""
    began = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 — our own scripts and manage.py
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - began
    stderr = proc.stderr.read()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[:3]} failed: {stderr[-2000:]}")
    return round(took, 1), round(usage.ru_maxrss / 1024, 1), stderr.strip()


def ops_figures(scratch: Scratch) -> dict:
    """With the server stopped: `export_org acme` (time, size, peak RSS of the command),
    scripts/backup.sh (time, size) and scripts/restore.sh into a scratch database (time)."""
    import tempfile

    env = server_env(scratch)
    work = Path(tempfile.mkdtemp(prefix="vigil-ops-"))
    out = {}
    try:
        export_file = work / "acme.json"
        took, rss, _ = _timed(
            [sys.executable, "manage.py", "export_org", "acme", "--output", str(export_file)], env
        )
        size = export_file.stat().st_size
        with open(export_file, "rb") as handle:  # the counts close the document: read the tail
            handle.seek(max(0, size - 64_000))
            tail = handle.read().decode("utf-8", errors="replace")
        counts = json.loads(tail[tail.rindex('"counts": ') + 10 :].rstrip().rstrip("}") + "}")
        out["export"] = {
            "seconds": took,
            "bytes": size,
            "peak_rss_mb": rss,
            "rows": sum(counts.values()),
            "incidents": counts["incidents.Incident"],
        }
        say(f"export_org acme: {out['export']}")
        dump = work / "vigil.dump"
        took, _, _ = _timed(["scripts/backup.sh", "-d", scratch.db_url, str(dump)], env)
        out["backup"] = {"seconds": took, "bytes": dump.stat().st_size}
        restored = f"{scratch.db_name}_restored"
        with scratch._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        try:
            took, _, _ = _timed(
                ["scripts/restore.sh", "-s", scratch.db_url, str(dump), restored], env
            )
            out["restore"] = {"seconds": took, "jobs": 2}
        finally:
            with scratch._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        say(f"backup {out['backup']}, restore {out['restore']}")
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    return out


def run_size(scratch: Scratch, incidents: int, args) -> dict:
    say(f"— size: {incidents:,} incidents in acme —")
    seeded = seed(scratch, incidents, args.state)
    t = targets()
    from django.db import connections

    connections.close_all()
    if args.duration <= 0:  # --ops-only
        return {
            "incidents_acme": incidents,
            "seed": {"timings": seeded["timings"], "rows": seeded["rows"]},
            "ops": ops_figures(scratch),
            "loadavg_after": loadavg(),
        }
    port = free_port()
    server = start_server(scratch, port, args.workers)
    worker = celery_worker(scratch, "load-worker")
    worker.env = server_env(scratch)
    worker.start()
    worker.wait_for_log("ready", timeout=60)
    poller = MemoryPoller({"gunicorn": server.process.pid, "celery": worker.process.pid})
    poller.start()
    before = loadavg()
    say(f"driving for {args.duration} s (+{WARM_UP_S} s warm-up), load average {before}")
    result = drive(port, t, seeded["hooks"], args.users, args.duration, args.seed)
    after = loadavg()
    poller.stopping.set()
    poller.join(timeout=5)
    poller.sample()
    memory = poller.report()
    server.stop()
    worker.stop()
    say(f"{result['req_s']} req/s, {result['errors']} errors; load average after {after}")
    ops = None
    if args.ops:
        try:
            ops = ops_figures(scratch)
        except Exception as exc:  # noqa: BLE001 — keep the drive's figures
            ops = {"error": repr(exc)[:2000]}
            say(f"ops figures failed: {exc!r}")
    return {
        "ops": ops,
        "incidents_acme": incidents,
        "seed": {"timings": seeded["timings"], "rows": seeded["rows"]},
        "open_incidents_posted_to": len(t["open_keys"]),
        "loadavg_before": before,
        "loadavg_after": after,
        "memory": memory,
        **result,
    }


def table(results: list[dict]) -> str:
    names = sorted({e for r in results for e in r["endpoints"]})
    head = "| endpoint | " + " | ".join(
        f"{r['incidents_acme']:,} incidents: req/s, p50 / p95 / p99 ms, errors" for r in results
    )
    lines = [head + " |", "|---" * (len(results) + 1) + "|"]
    for name in names:
        cells = []
        for r in results:
            e = r["endpoints"].get(name)
            cells.append(
                f"{e['req_s']}, {e['p50_ms']:.0f} / {e['p95_ms']:.0f} / {e['p99_ms']:.0f}, "
                f"{e['errors']}"
                if e
                else "–"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| **all** | "
        + " | ".join(f"**{r['req_s']}** req/s, {r['errors']} errors" for r in results)
        + " |"
    )
    for proc in ("gunicorn", "celery"):
        lines.append(
            f"| peak RSS {proc}: max per process / peak sum, MB | "
            + " | ".join(
                f"{r['memory'][proc]['peak_rss_mb_max']} / {r['memory'][proc]['peak_sum_rss_mb']}"
                f" ({r['memory'][proc]['processes']} processes)"
                for r in results
            )
            + " |"
        )
    lines.append(
        "| load average before → after | "
        + " | ".join(f"{r['loadavg_before']} → {r['loadavg_after']}" for r in results)
        + " |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=20_000, help="acme's incidents at 1×")
    parser.add_argument("--scale", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--workers", type=int, default=2 * len(os.sched_getaffinity(0)) + 1)
    parser.add_argument("--users", default="6,2,2", help="responders,managers,webhooks")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="2,000 incidents, 20 s, 1× only")
    parser.add_argument("--keep", action="store_true", help="keep the last database")
    parser.add_argument(
        "--ops", action="store_true", help="after each run: export_org, backup.sh, restore.sh"
    )
    parser.add_argument(
        "--ops-only", action="store_true", help="seed each size and measure only --ops's figures"
    )
    args = parser.parse_args(argv)
    args.users = tuple(int(x) for x in args.users.split(","))
    args.state = {}
    if args.quick:
        args.incidents, args.duration, args.scale = 2_000, 20, [1]
    if args.ops_only:
        args.duration, args.ops = 0, True

    signal.signal(signal.SIGTERM, _terminate)
    scratch = make_scratch()
    os.environ.update(server_env(scratch))
    import django

    django.setup()
    from bench.common import box_info

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    kind = "quick-" if args.quick else "ops-" if args.ops_only else ""
    out = RESULTS / f"load-{kind}{stamp}.json"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    shown = {k: v for k, v in vars(args).items() if k != "state"}
    report = {"benchmark": "load", "commit": commit, "args": shown, "sizes": []}
    try:
        scratch.create_database()
        report["box"] = box_info(scratch)
        for scale in args.scale:
            report["sizes"].append(run_size(scratch, args.incidents * scale, args))
            out.write_text(json.dumps(report, indent=2))
        if not args.ops_only:
            report["table"] = table(report["sizes"])
            print(report["table"])
        out.write_text(json.dumps(report, indent=2))
        say(f"results: {out}")
    finally:
        stop_all()
        from django.db import connections

        connections.close_all()
        scratch.flush_redis()
        if not args.keep:
            scratch.drop_database()
    bad = sum(r.get("errors", 0) for r in report["sizes"]) + sum(
        len(r.get("user_failures", ())) for r in report["sizes"]
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
