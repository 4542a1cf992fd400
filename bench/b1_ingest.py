"""B1 — alert ingestion over HTTP (docs/performance.md §4 B1/B2/B4, issue 5 "Benchmark").

    python bench/run.py b1 [--seconds 20] [--warm-up 5] [--workers 4] [--port 8099]
                           [--seed 1] [--no-profile] [--wait-for-others 600] [--keep-logs]

Set-up, all of it the benchmark's own:
- scratch database `vigil_bench_ingest` (created, migrated, dropped at the end; another name
  with BENCH_INGEST_DATABASE_NAME) and Redis database 13 (flushed before and after: incident
  creation queues Celery messages there; no worker runs, ingestion itself never needs Redis);
- 10 organisations × 2 Alertmanager sources with known bearer secrets (AlertSource.set_secret);
- gunicorn (sync workers, `--workers 4` by default) on 127.0.0.1, first free port from 8099,
  DEBUG=0, a dummy SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, LOG_LEVEL=WARNING, no access log, with
  DJANGO_SETTINGS_MODULE=bench.settings_bench: Vigil's settings and URLs plus the baseline
  views `POST /bench/bare/` and `POST /bench/minimal/<id>/` (bench/baseline_urls.py) — same
  server, same middleware;
- load: Debian's wrk (`-t2`, co-located on the same cores as in §1), driven by a generated Lua
  script that signs every POST with the source's `Authorization: Bearer` secret, spreads posts
  over the 20 sources and rotates fingerprints;
- the box is shared: the run waits (bounded) for it to be quiet before each scenario, and
  measures a timed scenario once more when other work took > 15 % of the box meanwhile.

Scenarios (each timed one: --warm-up seconds, then --seconds measured):
- (c) bare view, 16 connections: the single-alert body below, parsed, 202.
- (m) §3.2's "minimal ingest" (a §4 B0 baseline), 16 connections, the same posts as (a):
  bearer check, JSON parse, raw INSERT and group UPSERT in one transaction, plain SQL on its
  own tables (bench/baseline_urls.py) — the floor a lean ingest path has on this box.
- the pool: 2,000 fingerprints (100 per source), each with its open alert group linked to an
  open incident, inserted directly (bulk, like B10's seeding): opening 2,000 incidents through
  the API would take minutes of the run; the cost of a new fingerprint is measured by the
  race and by the profile below.
- (a) single-alert Alertmanager v4 posts (843 B), 16 connections: every 10th post of a wrk
  thread carries a new fingerprint, the others a random pool fingerprint of a random source
  (they join its open group).
- (b) 50 alerts per post (Prometheus' batch size), 8 connections: 45 consecutive pool
  fingerprints of one source + 5 new ones (the same 10 % as (a)).
- (r) 50 alerts per post, 8 connections, all pool fingerprints: the dedup path alone.
- dedup race (B4), fresh alert tables (TRUNCATE): 10,000 single-alert posts over 2,000 new
  fingerprints spread over the 20 sources, 16 connections. Each wrk thread owns half of the
  fingerprints; it first posts every one of them twice in a row (two of its connections
  race to create the group), then the 3 remaining copies in a scrambled order (joins, some
  concurrent). wrk is stopped once all are processed (at most RACE_LIMIT_S). Must end with
  exactly 2,000 open groups, Σcount = 10,000, one incident each.

Zero lost: wrk's Lua records every 202's `payload` id and `accepted` count; afterwards every
acknowledged payload must have exactly `accepted` rows in integrations_alert (and be
processed). Rows of posts whose answer wrk never read (in flight when it stopped) are found by
the run's marker label `bench_phase` and reported, not counted as lost.

Then, with the server stopped, the view runs in this process through django.test.Client
(uncontended; the pool seeded again): ms, SQL statements and SQL time per post for each kind
of post, time per section of the request (monkeypatched timers around ingest's functions) and
a cProfile of the (a) mix, aggregated by package — the explanation when a target is missed.

Prints a table; writes bench/results/b1-<date>.json (rewritten after every scenario).
Exit status 0 when nothing was lost or doubled and the race deduplicated exactly what was posted
(all 10,000 posts, or what its time bound allowed); targets missed are reported, not failed.
"""

import argparse
import cProfile
import datetime as dt
import json
import math
import os
import pstats
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC
from pathlib import Path
from string import Template
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS,
    ROOT,
    CpuAccount,
    CpuSampler,
    Proc,
    Scratch,
    box_info,
    say,
    stop_all,
)
from bench.common import summary as stats  # noqa: E402

DATABASE_NAME = "vigil_bench_ingest"
REDIS_DB = 13
ORGS = 10
SOURCES_PER_ORG = 2
POOL_PER_SOURCE = 100  # 20 sources × 100 = 2,000 pool fingerprints
NEW_EVERY = 10  # 10 % new fingerprints
BATCH = 50
THREADS = 2  # wrk -t2, as in docs/performance.md §1
CONNECTIONS = {"c": 16, "m": 16, "a": 16, "b": 8, "r": 8, "race": 16}
MINIMAL_PATH = "/bench/minimal/@ID@/"
# The (m) baseline's own tables (bench/baseline_urls.py), in the scratch database.
MINIMAL_TABLES = """
CREATE TABLE bench_minimal_raw (
    id bigserial PRIMARY KEY,
    source_id bigint NOT NULL,
    received_at timestamptz NOT NULL,
    body text NOT NULL
);
CREATE TABLE bench_minimal_group (
    id bigserial PRIMARY KEY,
    source_id bigint NOT NULL,
    fingerprint varchar(200) NOT NULL,
    status varchar(10) NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    count integer NOT NULL
);
CREATE UNIQUE INDEX bench_minimal_group_open
    ON bench_minimal_group (source_id, fingerprint) WHERE status = 'firing';
"""

RACE_POSTS = 10_000
RACE_FINGERPRINTS = 2_000
WRK_TIMEOUT = "10s"
RACE_MULT = 1_237  # prime; coprime with the 3,000 joins of a thread
RACE_LIMIT_S = 180  # upper bound for the count-bounded race
QUIET_WAIT_S = 60  # before each scenario, wait at most this long for a quiet box
SETTLE_S = 0.3  # then wait for the server to finish what was in flight when wrk stopped
DUMMY_SECRET_KEY = "bench-only-dummy-secret-key-" + "x" * 40  # noqa: S105
# docs/performance.md §3.2: "Django JsonResponse, default middleware stack", 3 workers, and
# "Minimal ingest" (3 / 5 workers) = 47 % of bare Django JSON.
ANCHOR_BARE_REQ_S = 3_660
ANCHOR_MINIMAL_REQ_S = 1_758
ANCHOR_MINIMAL_OVER_BARE = 0.47
TARGETS = {
    "a_over_c": 0.50,
    "a_p99_ms": 25.0,
    "b_alerts_per_s": 4_500,
    "lost": 0,
    "race_groups": RACE_FINGERPRINTS,
}

# One Alertmanager v4 alert (webhook_config, as in its docs); @FP@ is the fingerprint,
# @PHASE@ the run's marker label.
ALERT = (
    '{"status":"firing","labels":{"alertname":"ProbeFailure","instance":"host-@FP@",'
    '"job":"http_checks","severity":"warning","bench_phase":"@PHASE@"},'
    '"annotations":{"summary":"Probe failure on host-@FP@",'
    '"description":"Instance host-@FP@ has been down for 5m.",'
    '"runbook_url":"https://runbooks.example.org/probe-failure"},'
    '"startsAt":"@STARTS@","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"http://prometheus.example.org:9090/graph?g0.expr=probe_success",'
    '"fingerprint":"@FP@"}'
)
HEAD = '{"receiver":"vigil","status":"firing","alerts":['
TAIL = (
    '],"groupLabels":{"alertname":"ProbeFailure"},'
    '"commonLabels":{"alertname":"ProbeFailure","job":"http_checks","severity":"warning"},'
    '"commonAnnotations":{},"externalURL":"http://alertmanager.example.org:9093",'
    '"version":"4","groupKey":"{}:{alertname=\\"ProbeFailure\\"}","truncatedAlerts":0}'
)

LUA = Template(
    r"""-- B1 load script for one wrk run, generated by bench/b1_ingest.py.
local MODE = "$mode"          -- single | batch | repeats | race
local PHASE = "$phase"
local OUT = "$out"
local QUOTA = $quota          -- posts per thread (race); 0: until wrk's -d
local NTHREADS = $threads
local BATCH = $batch
local NEW_EVERY = $new_every
local POOL = $pool
local RACE_FPS = $race_fps    -- race: fingerprints per thread
local RACE_MULT = $race_mult  -- race: scrambles the joins (coprime with their count)
local PATH = "$path"          -- "" = the source's hook; @ID@ = its public id
local SOURCES = {
$sources
}
local ALERT = {$alert_parts}
local HEAD = [==[$head]==]
local TAIL = [==[$tail]==]
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- wrk calls request() once more on thread 0 to check the script, and never sends that
  -- request: start that thread one lower so that no post of the sequence is skipped
  sent = tid == 0 and -1 or 0
  answered = 0
  queued = 0
  statuses = {}
  acked = {}
  math.randomseed(7919 * (tid + 1) + $seed)
end

local function alert(fp)
  local out = {ALERT[1]}
  for i = 2, #ALERT do
    out[#out + 1] = fp
    out[#out + 1] = ALERT[i]
  end
  return table.concat(out)
end

local function pool_fp(s, k)
  return string.format("pool-%02d-%03d", s, k)
end

local function new_fp(j)
  return string.format("new-%s-%d-%d-%d", PHASE, tid, sent, j)
end

local function post(s, alerts)
  local source = SOURCES[s + 1]
  local path = PATH == "" and source[1] or string.gsub(PATH, "@ID@", source[3])
  local headers = {["Authorization"] = source[2], ["Content-Type"] = "application/json"}
  return wrk.format("POST", path, headers, HEAD .. table.concat(alerts, ",") .. TAIL)
end

function request()
  sent = sent + 1
  if sent == 0 then
    return wrk.format("GET", "/healthz")  -- the check call (see init)
  end
  if QUOTA > 0 then
    if sent > QUOTA then
      return wrk.format("GET", "/healthz")  -- filler until this thread's answers are in
    end
    -- this thread's fingerprints are m * NTHREADS + tid, m < RACE_FPS: first each one twice
    -- in a row (a creation race), then the other copies scrambled
    local k = sent - 1
    local m
    if k < 2 * RACE_FPS then
      m = math.floor(k / 2)
    else
      local joins = QUOTA - 2 * RACE_FPS
      m = ((k - 2 * RACE_FPS) * RACE_MULT + 17) % joins % RACE_FPS
    end
    local f = m * NTHREADS + tid
    return post(f % #SOURCES, {alert(string.format("race-%04d", f))})
  end
  local s = math.random(0, #SOURCES - 1)
  if MODE == "batch" or MODE == "repeats" then
    local offset = math.random(0, POOL - 1)
    local alerts = {}
    for j = 0, BATCH - 1 do
      if MODE == "batch" and j % NEW_EVERY == NEW_EVERY - 1 then
        alerts[#alerts + 1] = alert(new_fp(j))
      else
        alerts[#alerts + 1] = alert(pool_fp(s, (offset + j) % POOL))
      end
    end
    return post(s, alerts)
  end
  if sent % NEW_EVERY == 0 then
    return post(s, {alert(new_fp(0))})
  end
  return post(s, {alert(pool_fp(s, math.random(0, POOL - 1)))})
end

function response(status, headers, body)
  if status == 200 then
    return  -- /healthz (hooks and the bare view answer 202 or an error)
  end
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 then
    local pk = string.match(body, '"payload": (%d+)')
    local n = string.match(body, '"accepted": (%d+)')
    acked[#acked + 1] = (pk or "-") .. ":" .. (n or "0")
    if string.find(body, '"queued": true', 1, true) then
      queued = queued + 1
    end
  end
  if QUOTA > 0 and answered >= QUOTA then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local f = assert(io.open(OUT, "w"))
  local e = summary.errors
  f:write(string.format("summary %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", summary.requests,
    summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  f:write(string.format("latency %.0f %.0f %.0f %.0f %.0f %.0f %.1f\n", latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.min,
    latency.max, latency.mean))
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      f:write(string.format("status %s %.0f\n", tostring(code), n))
    end
    f:write(string.format("answered %.0f\n", t:get("answered")))
    f:write(string.format("queued %.0f\n", t:get("queued")))
    for _, a in ipairs(t:get("acked")) do
      f:write("ack ", a, "\n")
    end
  end
  f:close()
end
"""
)


def _terminate(signum, frame):
    raise SystemExit(f"stopped by signal {signum}")


# — the scratch database, the server ————————————————————————————————————————————————


def make_scratch() -> Scratch:
    """bench.common.Scratch (its safety checks included) with B1's own database and Redis
    database, so a B10 run on `vigil_bench` / Redis 14 is never touched."""
    redis_base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    wanted = {
        "BENCH_DATABASE_NAME": os.environ.get("BENCH_INGEST_DATABASE_NAME", DATABASE_NAME),
        "BENCH_REDIS_URL": urlunsplit(urlsplit(redis_base)._replace(path=f"/{REDIS_DB}")),
    }
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        return Scratch()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def server_env(scratch: Scratch) -> dict:
    return scratch.env(
        DJANGO_SETTINGS_MODULE="bench.settings_bench",
        DEBUG="0",
        SECRET_KEY=DUMMY_SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )


OTHER_BENCHMARK = re.compile(r"bench/run\.py|bench\.celery_app|bench/load\.py|bench/b1_ingest\.py")


def other_benchmarks() -> list[str]:
    """Benchmark processes of other runs on this box (B10's harness, worker, load…)."""
    mine = {os.getpid(), os.getppid()}
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            pid = int(cmdline.parent.name)
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if pid not in mine and OTHER_BENCHMARK.search(text):
            found.append(f"{pid} {text.strip()[:100]}")
    return found


def wait_for_other_benchmarks(limit: float) -> dict:
    """Two benchmarks on two cores measure each other: wait (bounded) until others finish."""
    began = time.monotonic()
    seen = other_benchmarks()
    if seen:
        say(f"waiting up to {limit:.0f} s for another benchmark to finish: {seen[0]}")
    while seen and time.monotonic() - began < limit:
        time.sleep(2)
        seen = other_benchmarks()
    return {"waited_s": round(time.monotonic() - began, 1), "still_running_at_start": seen}


QUIET_PERCENT = 20.0  # the box counts as quiet below this share busy (3 samples of 1 s)
SHARED_PERCENT = 15.0  # a scenario during which others used more than this is flagged


def wait_quiet(limit: float) -> dict:
    """Other sessions share this box (tests, other benchmarks): wait, at most `limit`
    seconds, until it is quiet — our own server is idle whenever this is called."""
    began = time.monotonic()
    quiet, busy = 0, None
    while True:
        before = CpuSampler.read()
        time.sleep(1)
        busy = CpuSampler.busy(before, CpuSampler.read())
        quiet = quiet + 1 if busy is not None and busy < QUIET_PERCENT else 0
        if quiet >= 3 or time.monotonic() - began >= limit:
            break
    return {"waited_s": round(time.monotonic() - began, 1), "busy_percent": busy}


def free_port(first: int) -> int:
    for port in range(first, first + 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {first}–{first + 99}")


def start_server(scratch: Scratch, port: int, workers: int) -> Proc:
    argv = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60"]
    argv += ["--log-level", "warning", "--logger-class", "config.redact.RedactingGunicornLogger"]
    server = Proc("gunicorn", argv, server_env(scratch), scratch.tmp).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not server.alive:
            raise RuntimeError(f"gunicorn exited:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"gunicorn not answering on {port}:\n{server.log()[-3000:]}")


def seed_pool(sources: list[dict]) -> int:
    """The pool's 2,000 open alert groups, each linked to an open incident of its
    organisation (status investigating, as an alert-opened incident someone picked up)."""
    from django.db import transaction
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from incidents.lifecycle import Status
    from incidents.models import Incident, KeyCounter
    from integrations.models import AlertGroup
    from taxonomy.models import SeverityLevel
    from tenancy.models import Organization

    now = timezone.now()
    made = 0
    with scopes_disabled(), transaction.atomic():
        for org in Organization.objects.filter(pk__in={s["org_id"] for s in sources}):
            level = SeverityLevel.objects.filter(organization=org, level=3).first()
            mine = [(i, s) for i, s in enumerate(sources) if s["org_id"] == org.pk]
            counter = KeyCounter.objects.filter(organization=org).first()
            last = counter.last_number if counter else 0
            fingerprints = [
                (s, f"pool-{i:02d}-{k:03d}") for i, s in mine for k in range(POOL_PER_SOURCE)
            ]
            incidents = [
                Incident(
                    organization=org,
                    number=n,
                    key=f"{org.key_prefix}-{n}",
                    title=f"Probe failure on host-{fp}",
                    severity=level,
                    status=Status.INVESTIGATING,
                    source=Incident.Source.ALERT,
                    detected_at=now,
                    reported_at=now,
                    acknowledged_at=now,
                    created_at=now,
                    updated_at=now,
                )
                for n, (_, fp) in enumerate(fingerprints, start=last + 1)
            ]
            Incident.objects.bulk_create(incidents, batch_size=1_000)
            KeyCounter.objects.update_or_create(
                organization=org, defaults={"last_number": last + len(incidents)}
            )
            groups = AlertGroup.objects.bulk_create(
                [
                    AlertGroup(
                        organization=org,
                        source_id=s["pk"],
                        fingerprint=fp,
                        title=f"Probe failure on host-{fp}",
                        severity="warning",
                        labels={
                            "alertname": "ProbeFailure",
                            "instance": f"host-{fp}",
                            "job": "http_checks",
                            "severity": "warning",
                            "bench_phase": "pool",
                        },
                        first_seen=now,
                        last_seen=now,
                        incident=incident,
                    )
                    for (s, fp), incident in zip(fingerprints, incidents, strict=True)
                ],
                batch_size=1_000,
            )
            made += len(groups)
    return made


def seed() -> list[dict]:
    """10 organisations × 2 Alertmanager sources; returns each source's path and secret."""
    from django.db import transaction
    from django_scopes import scopes_disabled

    from integrations.models import AlertSource
    from tenancy.models import Organization

    sources = []
    with scopes_disabled(), transaction.atomic():
        for o in range(ORGS):
            org = Organization.objects.create(
                name=f"Ingest {o}", slug=f"ingest-{o}", key_prefix=f"ING{o}", timezone="UTC"
            )
            for s in range(SOURCES_PER_ORG):
                secret = secrets.token_urlsafe(32)
                source = AlertSource(organization=org, name=f"prom-{s}", kind="alertmanager")
                source.set_secret(secret)
                source.save()
                sources.append(
                    {
                        "org": org.slug,
                        "org_id": org.pk,
                        "pk": source.pk,
                        "path": f"/hooks/{source.public_id}/",
                        "public_id": source.public_id,
                        "secret": secret,
                    }
                )
    return sources


def _sql(query: str, params=()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def _tables() -> dict:
    from incidents.models import Incident
    from integrations.models import Alert, AlertGroup, RawPayload

    return {
        "alert": Alert._meta.db_table,
        "group": AlertGroup._meta.db_table,
        "raw": RawPayload._meta.db_table,
        "incident": Incident._meta.db_table,
    }


# — wrk ——————————————————————————————————————————————————————————————————————————————


def body(fingerprints: list[str], phase: str, starts: str) -> str:
    alert = ALERT.replace("@PHASE@", phase).replace("@STARTS@", starts)
    return HEAD + ",".join(alert.replace("@FP@", fp) for fp in fingerprints) + TAIL


class Wrk:
    def __init__(self, scratch: Scratch, sources: list[dict], port: int, seed: int):
        self.scratch = scratch
        self.sources = sources
        self.url = f"http://127.0.0.1:{port}"
        self.seed = seed
        self.starts = dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.binary = shutil.which("wrk")

    def script(self, phase: str, mode: str, quota: int, path: str) -> tuple[Path, Path]:
        out = self.scratch.tmp / f"wrk-{phase}.out"
        alert = ALERT.replace("@PHASE@", phase).replace("@STARTS@", self.starts)
        lua = LUA.substitute(
            mode=mode,
            phase=phase,
            out=str(out),
            quota=quota,
            threads=THREADS,
            batch=BATCH,
            new_every=NEW_EVERY,
            pool=POOL_PER_SOURCE,
            race_fps=RACE_FINGERPRINTS // THREADS,
            race_mult=RACE_MULT,
            path=path,
            sources="\n".join(
                f'  {{"{s["path"]}", "Bearer {s["secret"]}", "{s["public_id"]}"}},'
                for s in self.sources
            ),
            alert_parts=", ".join(f"[==[{part}]==]" for part in alert.split("@FP@")),
            head=HEAD,
            tail=TAIL,
            seed=self.seed,
        )
        script = self.scratch.tmp / f"wrk-{phase}.lua"
        script.write_text(lua)
        return script, out

    def run(
        self,
        phase: str,
        mode: str,
        connections: int,
        seconds: float,
        *,
        quota: int = 0,
        path: str = "",
        done=None,
    ) -> dict:
        """One wrk run. `done`: for count-bounded runs, a check polled twice a second; once
        it holds, wrk gets SIGINT (its threads have stopped, but its main thread sleeps
        until -d) and writes its report."""
        script, out = self.script(phase, mode, quota, path)
        argv = [self.binary, f"-t{THREADS}", f"-c{connections}", f"-d{int(seconds)}s"]
        argv += ["--timeout", WRK_TIMEOUT, "-s", str(script), self.url]
        cpu = CpuAccount(self.scratch.db_name)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = _snapshot(cpu)
        proc = Proc(f"wrk-{phase}", argv, dict(os.environ), self.scratch.tmp).start()
        try:
            while done is not None and proc.alive:
                time.sleep(0.5)
                if done():
                    time.sleep(0.5)  # the last answers on their way back to wrk
                    os.killpg(proc.process.pid, signal.SIGINT)
                    break
            proc.process.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            proc.stop()
            raise
        after = _snapshot(cpu)
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.process.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({proc.process.returncode}):\n{proc.log()[-3000:]}")
        wrk_ticks = round(
            (used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime)
            * os.sysconf("SC_CLK_TCK")
        )
        result = parse_wrk(out.read_text())
        result.update(phase=phase, mode=mode, connections=connections, threads=THREADS)
        result["cpu_percent_of_box"] = cpu_share(before, after, wrk_ticks)
        return result


assert math.gcd(RACE_MULT, (RACE_POSTS - 2 * RACE_FINGERPRINTS) // THREADS) == 1


def parse_wrk(text: str) -> dict:
    statuses: dict[str, int] = {}
    acked: dict[int, int] = {}
    answered = queued = 0
    unnumbered = 0
    summary = latency = None
    for line in text.splitlines():
        kind, *fields = line.split()
        if kind == "summary":
            summary = [int(x) for x in fields]
        elif kind == "latency":
            latency = [float(x) for x in fields]
        elif kind == "status":
            statuses[fields[0]] = statuses.get(fields[0], 0) + int(fields[1])
        elif kind == "answered":
            answered += int(fields[0])
        elif kind == "queued":
            queued += int(fields[0])
        elif kind == "ack":
            pk, _, n = fields[0].partition(":")
            if pk == "-":
                unnumbered += int(n)  # the bare view: no payload id
            else:
                acked[int(pk)] = int(n)
    requests, duration_us, size, connect, read, write, status, timeout = summary
    seconds = duration_us / 1e6
    accepted = sum(acked.values()) + unnumbered
    posts = sum(statuses.values())
    p50, p90, p99, p999, low, high, mean = latency
    return {
        "seconds": round(seconds, 2),
        "posts": posts,
        "posts_per_s": round(posts / seconds, 1),
        "alerts_acknowledged": accepted,
        "alerts_per_s": round(accepted / seconds, 1),
        "latency_ms": {
            "p50": round(p50 / 1000, 2),
            "p90": round(p90 / 1000, 2),
            "p99": round(p99 / 1000, 2),
            "p99_9": round(p999 / 1000, 2),
            "min": round(low / 1000, 2),
            "max": round(high / 1000, 2),
            "mean": round(mean / 1000, 2),
        },
        "statuses": statuses,
        "non_202": posts - statuses.get("202", 0),
        "socket_errors": {"connect": connect, "read": read, "write": write, "timeout": timeout},
        "wrk_requests_incl_fillers": requests,
        "answered": answered,
        "queued_for_reprocessing": queued,
        "bytes_read": size,
        "acked": acked,
    }


def _snapshot(cpu: CpuAccount) -> dict | None:
    """CpuAccount's snapshot plus the box's steal time (this is a VM: time the hypervisor
    gave to others counts as busy in /proc/stat, and here as "other")."""
    snap = cpu.snapshot()
    if snap is not None:
        try:
            fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
            snap["steal"] = int(fields[7]) if len(fields) > 7 else 0
        except OSError:
            snap["steal"] = 0
    return snap


def cpu_share(before: dict | None, after: dict | None, wrk_ticks: int) -> dict | None:
    """Busy share of the box; of it the benchmark's (gunicorn, its PostgreSQL backends, this
    process, wrk) and everything else's (other processes, and the hypervisor's steal)."""
    if not before or not after:
        return None
    total = after["box"][0] - before["box"][0]
    idle = after["box"][1] - before["box"][1]
    if total <= 0:
        return None
    server = sum(t - before["ticks"].get(pid, 0) for pid, t in after["ticks"].items())
    busy = total - idle
    ours = server + wrk_ticks
    return {
        "box_busy_percent": round(100 * busy / total, 1),
        "server_and_postgres_percent": round(100 * server / total, 1),
        "wrk_percent": round(100 * wrk_ticks / total, 1),
        "other_percent": round(100 * max(0, busy - ours) / total, 1),
        "of_which_steal_percent": round(100 * (after["steal"] - before["steal"]) / total, 1),
    }


# — correctness ——————————————————————————————————————————————————————————————————————


def wait_server_idle(db_name: str, timeout: float = 120) -> float:
    """Wait until no other session of the scratch database is running a statement or holding
    a transaction open: the server has finished what was in flight when wrk stopped."""
    began = time.monotonic()
    time.sleep(SETTLE_S)
    quiet = 0
    while time.monotonic() - began < timeout:
        busy = _sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND state IN ('active', 'idle in transaction')",
            [db_name],
        )[0][0]
        quiet = quiet + 1 if busy == 0 else 0
        if quiet >= 3:
            break
        time.sleep(0.1)
    return round(time.monotonic() - began, 1)


def account(run: dict, db_name: str) -> dict:
    """Every acknowledged payload has exactly its `accepted` alert rows and is processed."""
    acked = run.pop("acked")
    run["server_busy_after_wrk_stopped_s"] = wait_server_idle(db_name)
    t = _tables()
    ids = list(acked)
    stored = dict(
        _sql(
            f"SELECT raw_id, count(*) FROM {t['alert']} WHERE raw_id = ANY(%s)"  # noqa: S608
            " GROUP BY raw_id",
            [ids],
        )
    )
    unprocessed = _sql(
        f"SELECT count(*) FROM {t['raw']} WHERE id = ANY(%s) AND status <> 'processed'",  # noqa: S608
        [ids],
    )[0][0]
    marked_rows, marked_payloads = _sql(
        f"SELECT count(*), count(DISTINCT raw_id) FROM {t['alert']}"  # noqa: S608
        " WHERE labels->>'bench_phase' = %s",
        [run["phase"]],
    )[0]
    lost = sum(max(0, n - stored.get(pk, 0)) for pk, n in acked.items())
    doubled = sum(max(0, stored.get(pk, 0) - n) for pk, n in acked.items())
    rows = sum(stored.values())
    return {
        "payloads_acknowledged": len(acked),
        "alerts_acknowledged": sum(acked.values()),
        "alert_rows_of_acknowledged_payloads": rows,
        "lost": lost,
        "doubled": doubled,
        "acknowledged_but_unprocessed_payloads": unprocessed,
        "rows_with_phase_marker": marked_rows,
        "rows_answered_after_wrk_stopped": marked_rows - rows,
        "payloads_answered_after_wrk_stopped": marked_payloads - len(stored),
        "ok": lost == 0 and doubled == 0 and unprocessed == 0,
    }


def account_minimal(run: dict, db_name: str) -> dict:
    """(m): every acknowledged payload's row is in bench_minimal_raw."""
    acked = run.pop("acked")
    run["server_busy_after_wrk_stopped_s"] = wait_server_idle(db_name)
    stored = _sql("SELECT count(*) FROM bench_minimal_raw WHERE id = ANY(%s)", [list(acked)])
    lost = len(acked) - stored[0][0]
    return {"payloads_acknowledged": len(acked), "lost": lost, "ok": lost == 0}


def race_check(race_started) -> dict:
    t = _tables()
    groups, total, firing, incidents, unlinked, distinct_fp = _sql(
        f"SELECT count(*), coalesce(sum(count), 0), count(*) FILTER (WHERE status = 'firing'),"  # noqa: S608
        " count(DISTINCT incident_id), count(*) FILTER (WHERE incident_id IS NULL),"
        f" count(DISTINCT (source_id, fingerprint)) FROM {t['group']}"
        " WHERE fingerprint LIKE 'race-%%'",
    )[0]
    rows, posted = _sql(
        f"SELECT count(*), count(DISTINCT (source_id, fingerprint)) FROM {t['alert']}"  # noqa: S608
        " WHERE fingerprint LIKE 'race-%%'"
    )[0]
    opened = _sql(
        f"SELECT count(*) FROM {t['incident']}"  # noqa: S608
        " WHERE title LIKE 'Probe failure on host-race-%%' AND created_at >= %s",
        [race_started],
    )[0][0]
    span = _sql(
        f"SELECT extract(epoch FROM max(processed_at) - min(received_at)) FROM {t['raw']}"  # noqa: S608
    )[0][0]
    # Whatever was posted (all of it, or what the time bound allowed): one open group and one
    # incident per fingerprint, and every alert counted once in its group.
    deduplicated = (
        groups == posted == distinct_fp == firing == incidents == opened and total == rows
    )
    complete = rows == RACE_POSTS and groups == RACE_FINGERPRINTS
    exact = deduplicated and complete
    return {
        "alert_groups": groups,
        "open_groups": firing,
        "distinct_source_fingerprints": distinct_fp,
        "sum_count": total,
        "alert_rows": rows,
        "fingerprints_posted": posted,
        "incidents_opened": opened,
        "groups_linked_to_distinct_incidents": incidents,
        "groups_without_incident": unlinked,
        "first_received_to_last_processed_s": round(float(span or 0), 2),
        "deduplicated": deduplicated,
        "complete": complete,
        "exact": exact,
    }


# — in-process profile (server stopped) ——————————————————————————————————————————————

SECTIONS = [
    ("integrations.ingest", "source_for", "source lookup (SELECT source + org)"),
    ("integrations.ingest", "check_secret", "secret check (sha256 + compare)"),
    ("integrations.ingest", "check_signature", "signature check (no HMAC: no-op)"),
    ("integrations.ingest", "check_rate", "rate limit (in process)"),
    ("integrations.ingest", "parse_json", "json.loads"),
    ("integrations.views", "normalize", "adapter (normalise)"),
    ("integrations.ingest", "store_raw", "store raw payload (INSERT + COMMIT)"),
    ("integrations.ingest", "process", "process (1 transaction)"),
    ("integrations.ingest", "_upsert_group", "  of which group upserts"),
    ("integrations.ingest", "correlate", "  of which correlate()"),
    ("incidents.services", "incident_create", "    of which incident_create()"),
]


class Sections:
    """Wall-clock timers wrapped around module functions for the duration of a block, and a
    count of the SQL statements executed (and their time: round trip + server)."""

    def __init__(self):
        import importlib

        self.spent = {label: 0.0 for _, _, label in SECTIONS}
        self.calls = {label: 0 for _, _, label in SECTIONS}
        self.saved = []
        self.modules = {name: importlib.import_module(name) for name, _, _ in SECTIONS}
        self.queries = 0
        self.sql_seconds = 0.0
        self.wrapper = None

    def _count(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql_seconds += time.perf_counter() - began
            self.queries += 1

    def __enter__(self):
        from django.db import connection

        self.wrapper = connection.execute_wrapper(self._count)
        self.wrapper.__enter__()
        for module_name, attr, label in SECTIONS:
            module = self.modules[module_name]
            original = getattr(module, attr)
            self.saved.append((module, attr, original))
            setattr(module, attr, self._timed(original, label))
        return self

    def _timed(self, original, label):
        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - began
                self.calls[label] += 1

        return timed

    def __exit__(self, *exc):
        for module, attr, original in reversed(self.saved):
            setattr(module, attr, original)
        self.wrapper.__exit__(*exc)


def _bucket(filename: str, function: str) -> str:
    if filename == "~":
        if "poll" in function or "select" in function or "recv" in function:
            return "socket waits (PostgreSQL round trips)"
        return "C builtins (other)"
    path = filename.replace("\\", "/")
    if "/site-packages/" in path:
        package = path.split("/site-packages/", 1)[1].split("/")[0]
        if package == "django":
            part = path.split("/site-packages/django/", 1)[1].split("/")[0]
            sub = path.split("/site-packages/django/", 1)[1]
            if sub.startswith("db/models/sql") or sub.startswith("db/backends"):
                return "django ORM: SQL compiler / backend"
            if part == "db":
                return "django ORM: models / querysets"
            return f"django {part}"
        return package.split(".")[0]
    if path.startswith(str(ROOT)):
        return "vigil " + path[len(str(ROOT)) + 1 :].split("/")[0]
    if "/lib/python3" in path:
        return "python stdlib " + path.rsplit("/", 1)[-1].removesuffix(".py")
    return path.rsplit("/", 1)[-1]


def profile(sources: list[dict], rng: random.Random) -> dict:
    """The view through django.test.Client in this process, one request at a time."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    starts = dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    counter = iter(range(10**9))
    mix = iter(range(10**9))

    def pick():
        s = rng.randrange(len(sources))
        return s, sources[s]

    def single_repeat():
        s, source = pick()
        fp = f"pool-{s:02d}-{rng.randrange(POOL_PER_SOURCE):03d}"
        return source, body([fp], "profile", starts)

    def single_new():
        _, source = pick()
        return source, body([f"prof-new-{next(counter)}"], "profile", starts)

    def batch(new_share: bool):
        s, source = pick()
        offset = rng.randrange(POOL_PER_SOURCE)
        fps = [
            f"prof-new-{next(counter)}"
            if new_share and j % NEW_EVERY == NEW_EVERY - 1
            else f"pool-{s:02d}-{(offset + j) % POOL_PER_SOURCE:03d}"
            for j in range(BATCH)
        ]
        return source, body(fps, "profile", starts)

    def a_mix():
        return single_new() if next(mix) % NEW_EVERY == 0 else single_repeat()

    kinds = [
        ("bare view (c)", single_repeat, 300, True),
        ("single, repeat fingerprint (joins its group)", single_repeat, 200, False),
        ("single, new fingerprint (new group + incident)", single_new, 60, False),
        ("(a) mix: 90 % repeat, 10 % new", a_mix, 200, False),
        ("batch of 50, all repeats", lambda: batch(False), 10, False),
        ("(b) batch of 50: 45 repeats + 5 new", lambda: batch(True), 10, False),
    ]

    def post(source, payload, bare):
        path = "/bench/bare/" if bare else source["path"]
        response = client.post(
            path,
            payload,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {source['secret']}",
        )
        assert response.status_code == 202, (response.status_code, response.content[:300])

    result = {}
    for label, make, n, bare in kinds:
        for _ in range(min(5, n)):  # warm-up
            post(*make(), bare)
        timings = []
        with Sections() as sections:
            for _ in range(n):
                payload = make()
                began = time.perf_counter()
                post(*payload, bare)
                timings.append((time.perf_counter() - began) * 1000)
        total = sum(timings)
        per_post = {
            name: round(spent * 1000 / n, 3)
            for name, spent in sections.spent.items()
            if sections.calls[name]
        }
        view_parts = sum(
            v for k, v in per_post.items() if not k.startswith(" ") and "no-op" not in k
        )
        per_post["rest: middleware, routing, response, test client"] = round(
            total / n - view_parts, 3
        )
        result[label] = {
            "posts": n,
            "ms_per_post": stats(timings, 3),
            "sql_statements_per_post": round(sections.queries / n, 1),
            "sql_ms_per_post": round(sections.sql_seconds * 1000 / n, 3),
            "sections_ms_per_post": per_post,
        }
        say(f"profile: {label}: {total / n:.2f} ms/post, {sections.queries / n:.1f} statements")
    # cProfile of the (a) mix, aggregated by package (self time) and by function (cumulative).
    profiler = cProfile.Profile()
    n = 150
    payloads = [a_mix() for _ in range(n)]
    profiler.enable()
    for payload in payloads:
        post(*payload, False)
    profiler.disable()
    st = pstats.Stats(profiler)
    buckets: dict[str, float] = {}
    functions = []
    total = 0.0
    for (filename, line, function), (_cc, nc, tt, ct, _callers) in st.stats.items():
        total += tt
        name = _bucket(filename, function)
        buckets[name] = buckets.get(name, 0.0) + tt
        short = filename.replace(str(ROOT) + "/", "").split("/site-packages/")[-1]
        functions.append((ct, tt, nc, f"{short}:{line}({function})"))
    functions.sort(reverse=True)
    return {
        "kinds": result,
        "cprofile_a_mix": {
            "posts": n,
            "ms_per_post_under_profiler": round(total * 1000 / n, 3),
            "self_time_ms_per_post_by_package": {
                k: round(v * 1000 / n, 3)
                for k, v in sorted(buckets.items(), key=lambda kv: -kv[1])[:16]
            },
            "top_cumulative": [
                {
                    "function": name,
                    "calls_per_post": round(nc / n, 2),
                    "cum_ms_per_post": round(ct * 1000 / n, 3),
                    "self_ms_per_post": round(tt * 1000 / n, 3),
                }
                for ct, tt, nc, name in functions[:40]
                if "/cProfile" not in name
            ][:30],
        },
    }


# — the run ——————————————————————————————————————————————————————————————————————————


def versions() -> dict:
    """gunicorn's and wrk's versions, and which Vigil was measured (commit, changed files)."""
    import gunicorn

    def run(*argv) -> str:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
        return out.stdout + out.stderr

    match = re.search(r"wrk (\S+)", run(shutil.which("wrk") or "wrk", "--version"))
    git = shutil.which("git") or "git"
    changed = [line[3:] for line in run(git, "status", "--porcelain").splitlines()]
    return {
        "gunicorn": gunicorn.__version__,
        "wrk": match.group(1) if match else None,
        "vigil_commit": run(git, "rev-parse", "--short", "HEAD").strip(),
        "vigil_uncommitted_outside_bench": [p for p in changed if not p.startswith("bench/")],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py b1", description="B1 — alert ingestion over HTTP (bench/README.md)."
    )
    parser.add_argument("--seconds", type=int, default=20, help="measured seconds per scenario")
    parser.add_argument("--warm-up", type=int, default=5, help="warm-up seconds per scenario")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8099, help="first port tried")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile")
    parser.add_argument(
        "--wait-for-others",
        type=float,
        default=600,
        help="seconds to wait for another benchmark run on this box to finish first",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="seed, then only the in-process profile (no server, no wrk; ~1 min): for iterating",
    )
    args = parser.parse_args(argv)
    if args.profile_only:
        return profile_only(args)
    if shutil.which("wrk") is None:
        raise SystemExit("B1 needs wrk: apt-get install -y wrk")

    signal.signal(signal.SIGTERM, _terminate)
    others = wait_for_other_benchmarks(args.wait_for_others)
    others["quiet"] = wait_quiet(args.wait_for_others)
    scratch = make_scratch()
    os.environ.update(server_env(scratch))  # this process too, before Django reads settings
    began = time.monotonic()
    stamp = dt.datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = RESULTS / f"b1-{stamp}.json"
    result: dict = {"benchmark": "b1", "config": vars(args) | {"connections": CONNECTIONS}}
    ok = False

    def save():
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")

    try:
        say(f"scratch database {scratch.db_name!r}, Redis {scratch.redis_url}")
        scratch.create_database()
        scratch.flush_redis()
        scratch.migrate()
        import django

        django.setup()
        result["box"] = box_info(scratch) | versions() | {"other_benchmarks": others}
        say(f"box: {result['box']['nproc']} CPUs, PostgreSQL {result['box']['postgresql']}")
        sources = seed()
        result["pool_groups_with_incidents"] = seed_pool(sources)
        for statement in MINIMAL_TABLES.split(";"):
            if statement.strip():
                _sql(statement)
        _sql("VACUUM (ANALYZE)")  # what autovacuum would have done long before
        port = free_port(args.port)
        server = start_server(scratch, port, args.workers)
        result["server"] = {
            "argv": " ".join(server.argv[1:]),
            "port": port,
            "workers": args.workers,
            "worker_class": "sync",
            "settings": "bench.settings_bench (config.settings + /bench/bare/)",
            "env": "DEBUG=0 SECRET_KEY=<dummy> ALLOWED_HOSTS=127.0.0.1 LOG_LEVEL=WARNING,"
            " no access log, DB_CONN_MAX_AGE=60 (default)",
        }
        say(f"gunicorn, {args.workers} sync workers, on 127.0.0.1:{port}")
        load = Wrk(scratch, sources, port, args.seed)
        scenarios: dict = {}
        result["scenarios"] = scenarios

        def check(run: dict, path_: str) -> None:
            if path_ == MINIMAL_PATH:
                run["accounting"] = account_minimal(run, scratch.db_name)
            elif path_:
                run.pop("acked")
                wait_server_idle(scratch.db_name)
            else:
                run["accounting"] = account(run, scratch.db_name)

        def timed(key: str, mode: str, path_: str = "") -> None:
            conns = CONNECTIONS[key]
            discarded = []
            for attempt in (1, 2):  # once more if other work took the box meanwhile
                quiet = wait_quiet(QUIET_WAIT_S)
                say(f"({key}) warm-up {args.warm_up} s, {conns} connections")
                warm = load.run(f"{key}-warm{attempt}", mode, conns, args.warm_up, path=path_)
                say(f"({key}) measuring {args.seconds} s")
                run = load.run(f"{key}{attempt}", mode, conns, args.seconds, path=path_)
                check(warm, path_)
                check(run, path_)
                other = (run["cpu_percent_of_box"] or {}).get("other_percent", 0)
                if attempt == 2 or other <= SHARED_PERCENT:
                    break
                say(f"({key}) others used {other} % of the box meanwhile: measuring again")
                discarded.append(
                    {k: run.get(k) for k in ("posts_per_s", "latency_ms", "cpu_percent_of_box")}
                    | {"accounting": [x.get("accounting") for x in (warm, run)]}
                )
            run["warm_up"] = {
                k: warm[k] for k in ("seconds", "posts_per_s", "alerts_per_s", "non_202")
            } | ({"accounting": warm["accounting"]} if "accounting" in warm else {})
            run["box_before"] = quiet
            run["discarded_shared_attempts"] = discarded
            scenarios[key] = run
            say(
                f"({key}) {run['posts_per_s']} posts/s, {run['alerts_per_s']} alerts/s, p50/p99"
                f" {run['latency_ms']['p50']}/{run['latency_ms']['p99']} ms,"
                f" non-202 {run['non_202']}"
                + (f", lost {run['accounting']['lost']}" if "accounting" in run else "")
            )
            save()

        timed("c", "single", "/bench/bare/")
        timed("m", "single", MINIMAL_PATH)
        timed("a", "single")
        timed("b", "batch")
        timed("r", "repeats")

        say("(race) fresh alert tables; 10,000 posts over 2,000 new fingerprints")
        t = _tables()
        _sql(f"TRUNCATE {t['alert']}, {t['group']}, {t['raw']} CASCADE")
        _sql("VACUUM (ANALYZE)")
        quiet = wait_quiet(QUIET_WAIT_S)
        race_started = dt.datetime.now(UTC)

        def race_done() -> bool:
            posts = _sql(f"SELECT count(*) FROM {t['raw']}")[0][0]  # noqa: S608
            return posts >= RACE_POSTS and wait_server_idle(scratch.db_name, 5) < 5

        race = load.run(
            "race",
            "race",
            CONNECTIONS["race"],
            RACE_LIMIT_S,
            quota=RACE_POSTS // THREADS,
            done=race_done,
        )
        race["accounting"] = account(race, scratch.db_name)
        race["check"] = race_check(race_started)
        race["box_before"] = quiet
        scenarios["race"] = race
        say(
            f"(race) {race['seconds']} s, {race['check']['alert_groups']} groups,"
            f" Σcount {race['check']['sum_count']}"
        )
        save()
        server.stop()

        if not args.no_profile:
            say("profile: the view in this process, one request at a time (pool seeded again)")
            _sql(f"TRUNCATE {t['alert']}, {t['group']}, {t['raw']} CASCADE")
            seed_pool(sources)
            _sql("VACUUM (ANALYZE)")
            quiet = wait_quiet(QUIET_WAIT_S)
            cpu = CpuAccount(scratch.db_name)
            before = _snapshot(cpu)
            result["profile"] = profile(sources, random.Random(args.seed)) | {
                "box_before": quiet,
                "cpu_percent_of_box": cpu_share(before, _snapshot(cpu), 0),
            }
        result["seconds"] = round(time.monotonic() - began, 1)
        save()
        ok = report(result, path)
    finally:
        stop_all()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        scratch.drop_database()
        scratch.flush_redis()
        if args.keep_logs or not ok:
            say(f"process logs kept in {scratch.tmp}")
        else:
            shutil.rmtree(scratch.tmp, ignore_errors=True)
    return 0 if ok else 1


def profile_only(args) -> int:
    """Seed a scratch database and print the in-process profile; nothing is written to
    bench/results (a profile is not a benchmark run)."""
    scratch = make_scratch()
    os.environ.update(server_env(scratch))
    try:
        scratch.create_database()
        scratch.flush_redis()
        scratch.migrate()
        import django

        django.setup()
        sources = seed()
        seed_pool(sources)
        _sql("VACUUM (ANALYZE)")
        result = profile(sources, random.Random(args.seed))
        for label, kind in result["kinds"].items():
            print(
                f"{label:50} {kind['ms_per_post']['p50']:8.2f} ms p50"
                f" {kind['sql_statements_per_post']:6.1f} stmts"
                f" {kind['sql_ms_per_post']:7.2f} ms SQL"
            )
            for name, ms in kind["sections_ms_per_post"].items():
                print(f"      {name:60} {ms:8.3f}")
        print(json.dumps(result["cprofile_a_mix"], indent=1))
    finally:
        from django.db import connections

        connections.close_all()
        scratch.drop_database()
        scratch.flush_redis()
        shutil.rmtree(scratch.tmp, ignore_errors=True)
    return 0


# — the report ———————————————————————————————————————————————————————————————————————


def _verdict(good: bool) -> str:
    return "met" if good else "MISSED"


def _lat(run: dict) -> str:
    lat = run["latency_ms"]
    return f"{lat['p50']} / {lat['p99']} / {lat['max']}"


def _errors(run: dict) -> str:
    sock = sum(run["socket_errors"].values())
    return f"{run['non_202']} / {sock}"


def _cpu(run: dict) -> tuple:
    c = run.get("cpu_percent_of_box")
    if not c:
        return ("n/a",)
    shared = c["other_percent"] > SHARED_PERCENT
    steal = c.get("of_which_steal_percent")
    return (
        f"{c['box_busy_percent']} / {c['server_and_postgres_percent']} / {c['wrk_percent']}"
        f" / {c['other_percent']}" + (f" (steal {steal})" if steal is not None else ""),
        f"other ≤ {SHARED_PERCENT:.0f}",
        "SHARED BOX" if shared else "ok",
    )


def report(result: dict, path: Path) -> bool:
    box, sc = result["box"], result["scenarios"]
    a, b, c, m, race = sc["a"], sc["b"], sc["c"], sc["m"], sc["race"]
    ratio = a["posts_per_s"] / c["posts_per_s"] if c["posts_per_s"] else 0.0
    m_over_c = m["posts_per_s"] / c["posts_per_s"] if c["posts_per_s"] else 0.0
    a_over_m = a["posts_per_s"] / m["posts_per_s"] if m["posts_per_s"] else 0.0
    check = race["check"]
    posted = [s for s in (a, b, sc.get("r")) if s is not None]
    accounted = [s["accounting"] for s in (*posted, race)] + [
        s["warm_up"]["accounting"] for s in posted
    ]
    accounted += [  # attempts measured again because the box was shared: checked all the same
        x for s in posted for d in s["discarded_shared_attempts"] for x in d["accounting"]
    ]
    lost = sum(x["lost"] for x in accounted)
    doubled = sum(x["doubled"] for x in accounted)
    unprocessed = sum(x["acknowledged_but_unprocessed_payloads"] for x in accounted)
    acked = sum(x["alerts_acknowledged"] for x in accounted)
    late = sum(x["rows_answered_after_wrk_stopped"] for x in accounted)
    deviation = c["posts_per_s"] / ANCHOR_BARE_REQ_S - 1
    result["summary"] = {
        "a_over_c": round(ratio, 3),
        "m_over_c": round(m_over_c, 3),
        "a_over_m": round(a_over_m, 3),
        "a_p99_ms": a["latency_ms"]["p99"],
        "b_alerts_per_s": b["alerts_per_s"],
        "lost": lost,
        "doubled": doubled,
        "race_exact": check["exact"],
        "race_seconds": race["seconds"],
        "c_vs_anchor_deviation": round(deviation, 3),
        "targets": TARGETS,
    }
    rows = [
        ("box", f"{box['nproc']} CPUs, {box['cpu']}, {box['mem_gib']} GiB"),
        ("date", box["date"]),
        (
            "versions",
            f"Python {box['python']}, Django {box['django']}, gunicorn {box['gunicorn']},"
            f" psycopg {box['psycopg']}, PostgreSQL {box['postgresql']}, wrk {box['wrk']}",
        ),
        (
            "Vigil commit (uncommitted files outside bench/)",
            f"{box['vigil_commit']} ({len(box['vigil_uncommitted_outside_bench'])})",
        ),
        (
            "fdatasync ops/s; box busy before start %",
            f"{box['fdatasync_ops_s']}; {box['cpu_busy_percent_before_start']}",
        ),
        (
            "server",
            f"gunicorn {result['server']['workers']} sync workers, 127.0.0.1:"
            f"{result['server']['port']}, DEBUG=0, no access log",
        ),
        ("load", f"wrk -t{THREADS}, Lua (bearer, rotating fingerprints), loopback"),
        (
            "measured s per scenario (after warm-up s)",
            f"{result['config']['seconds']} ({result['config']['warm_up']})",
        ),
        ("", ""),
        (
            "(c) bare view, 16 conn: req/s",
            c["posts_per_s"],
            f"§3.2 {ANCHOR_BARE_REQ_S} ±25 %",
            "ok" if abs(deviation) <= 0.25 else "box differs",
        ),
        ("    p50 / p99 / max ms", _lat(c)),
        ("    non-202 / socket errors", _errors(c)),
        (
            "(m) minimal ingest (plain SQL, 1 transaction): req/s",
            m["posts_per_s"],
            f"§3.2 {ANCHOR_MINIMAL_REQ_S}",
        ),
        ("    p50 / p99 / max ms", _lat(m)),
        ("    (m)/(c) req/s", f"{m_over_c:.1%}", f"§3.2 {ANCHOR_MINIMAL_OVER_BARE:.0%}"),
        (
            "    non-202 / socket errors / lost",
            f"{_errors(m)} / {m['accounting']['lost']}",
            "0 / 0 / 0",
            _verdict(m["non_202"] == 0 and m["accounting"]["lost"] == 0),
        ),
        ("(a) single alert, 16 conn: req/s = alerts/s", a["posts_per_s"]),
        (
            "    p50 / p99 / max ms",
            _lat(a),
            f"p99 ≤ {TARGETS['a_p99_ms']:.0f}",
            _verdict(a["latency_ms"]["p99"] <= TARGETS["a_p99_ms"]),
        ),
        (
            "    (a)/(c) req/s",
            f"{ratio:.1%}",
            f"≥ {TARGETS['a_over_c']:.0%}",
            _verdict(ratio >= TARGETS["a_over_c"]),
        ),
        ("    (a)/(m) req/s", f"{a_over_m:.1%}", "≥ 75% (§4 B1)", _verdict(a_over_m >= 0.75)),
        ("    non-202 / socket errors", _errors(a), "0", _verdict(a["non_202"] == 0)),
        (
            "(b) 50 per post, 8 conn: alerts/s",
            b["alerts_per_s"],
            f"≥ {TARGETS['b_alerts_per_s']:,}",
            _verdict(b["alerts_per_s"] >= TARGETS["b_alerts_per_s"]),
        ),
        (
            "    posts/s; p50 / p99 / max ms",
            f"{b['posts_per_s']}; {_lat(b)}",
            "p99 ≤ 150 (§4)",
            _verdict(b["latency_ms"]["p99"] <= 150),
        ),
        ("    non-202 / socket errors", _errors(b), "0", _verdict(b["non_202"] == 0)),
        *(
            [
                (
                    "(r) 50 repeats per post (no new fingerprint), 8 conn: alerts/s",
                    sc["r"]["alerts_per_s"],
                    "(b) without new incidents",
                ),
                ("    posts/s; p50 / p99 / max ms", f"{sc['r']['posts_per_s']}; {_lat(sc['r'])}"),
                ("    non-202 / socket errors", _errors(sc["r"]), "0"),
            ]
            if "r" in sc
            else []
        ),
        ("zero lost: alerts acknowledged (a, b, r, race, warm-ups)", acked),
        (
            "    lost / doubled / acknowledged-unprocessed",
            f"{lost} / {doubled} / {unprocessed}",
            "0 / 0 / 0",
            _verdict(lost == 0 and doubled == 0 and unprocessed == 0),
        ),
        ("    rows of posts answered after wrk stopped", late),
        (
            "race: 10,000 posts, 2,000 fingerprints, 16 conn: s",
            f"{race['seconds']} (server: {check['first_received_to_last_processed_s']})",
            "≤ 8 s (§4)",
            _verdict(race["seconds"] <= 8),
        ),
        (
            "    groups / open / Σcount / alert rows",
            f"{check['alert_groups']} / "
            f"{check['open_groups']} / {check['sum_count']} / {check['alert_rows']}",
            "2000/2000/10000/10000",
            _verdict(check["exact"]),
        ),
        (
            "    incidents opened / non-202",
            f"{check['incidents_opened']} / {race['non_202']}",
            "2000 / 0",
        ),
        (
            "    posted fingerprints: 1 group + 1 incident each",
            f"{check['fingerprints_posted']} fingerprints, Σcount = rows",
            "",
            _verdict(check["deduplicated"])
            + ("" if check["complete"] else f" (race cut at {RACE_LIMIT_S} s)"),
        ),
        ("    posts/s", race["posts_per_s"]),
        ("CPU % busy / server+PG / wrk / other: (c)", *_cpu(c)),
        ("    (m)", *_cpu(m)),
        ("    (a)", *_cpu(a)),
        ("    (b)", *_cpu(b)),
        ("    race", *_cpu(race)),
    ]
    prof = result.get("profile")
    if prof:
        rows.append(
            ("in process, 1 client: ms/post (of it SQL); SQL statements", "", *_cpu(prof)[1:])
        )
        rows.append(("    CPU % busy / this process+PG / - / other", _cpu(prof)[0]))
        for label, kind in prof["kinds"].items():
            rows.append(
                (
                    f"    {label}",
                    f"{kind['ms_per_post']['mean']} ({kind['sql_ms_per_post']});"
                    f" {kind['sql_statements_per_post']}",
                )
            )
    rows.append(("wall time of the run s", result["seconds"]))
    width = max(len(r[0]) for r in rows)
    vwidth = min(44, max(len(str(r[1])) for r in rows))
    print()
    for name, value, *rest in rows:
        target = rest[0] if rest else ""
        mark = rest[1] if len(rest) > 1 else ""
        print(f"{name:<{width}}  {value!s:<{vwidth}}  {target:<22} {mark}".rstrip())
    if prof:
        mix = prof["kinds"]["(a) mix: 90 % repeat, 10 % new"]["sections_ms_per_post"]
        print("\n(a) mix in process, ms per post by section:")
        for name, ms in mix.items():
            print(f"    {name:<52} {ms:>7.3f}")
        print("cProfile of the (a) mix, self time ms per post by package:")
        for name, ms in prof["cprofile_a_mix"]["self_time_ms_per_post_by_package"].items():
            print(f"    {name:<52} {ms:>7.3f}")
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten: {path.relative_to(RESULTS.parents[1])}")
    # Correctness decides the exit status; a race cut by its time bound is a missed target.
    return lost == 0 and doubled == 0 and unprocessed == 0 and check["deduplicated"]


if __name__ == "__main__":
    sys.exit(main())
