"""Plumbing shared by the benchmarks: the scratch database and Redis database they own, the
processes they start (and only those: each in its own process group, stopped by its id), the
box's description, and statistics.

Nothing here touches the developer's database or Redis database: the scratch names are derived
from DATABASE_URL / REDIS_URL by replacing the database part, and the run refuses to start if
they would be the same.
"""

import functools
import math
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigil"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


# — the scratch database and Redis database ————————————————————————————————————————————


class Scratch:
    """Where one benchmark run lives: database `vigil_bench` (created, migrated, dropped) on
    the server of DATABASE_URL, and Redis database 14 on the server of REDIS_URL (flushed)."""

    def __init__(self):
        base_db = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        base_redis = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
        self.db_name = os.environ.get("BENCH_DATABASE_NAME", "vigil_bench")
        parts = urlsplit(base_db)
        if parts.path.lstrip("/") == self.db_name:
            raise SystemExit(f"Refusing to run: DATABASE_URL already names {self.db_name!r}.")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", self.db_name):
            raise SystemExit(f"BENCH_DATABASE_NAME={self.db_name!r} is not a plain name.")
        self.db_url = urlunsplit(parts._replace(path=f"/{self.db_name}"))
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        rparts = urlsplit(base_redis)
        bench_redis = os.environ.get("BENCH_REDIS_URL") or urlunsplit(rparts._replace(path="/14"))
        if bench_redis.rstrip("/") == base_redis.rstrip("/"):
            raise SystemExit("Refusing to run: the benchmark's Redis database is REDIS_URL's.")
        self.redis_url = bench_redis

    @functools.cached_property
    def tmp(self) -> Path:
        """The run's directory for process logs (made when first needed)."""
        return Path(tempfile.mkdtemp(prefix="vigil-bench-"))

    def env(self, **extra) -> dict:
        """The environment of every process of the run (the benchmark's own included)."""
        env = dict(os.environ)
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        env.update(
            DATABASE_URL=self.db_url,
            REDIS_URL=self.redis_url,
            DJANGO_SETTINGS_MODULE="config.settings",
            DEBUG="0",  # production-like (docs/performance.md §5)
            SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            STATIC_MANIFEST="0",  # nothing here renders pages; no collectstatic needed
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5)

    def create_database(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.db_name}"')

    def drop_database(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url)

    def flush_redis(self) -> None:
        client = self.redis()
        client.flushdb()
        client.close()

    def migrate(self) -> None:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=self.env(),
            check=True,
        )


# — processes the benchmark starts ————————————————————————————————————————————————————

STARTED: list["Proc"] = []


class Proc:
    """A child process in its own session (process group), logging to a file. Stopped or
    killed by its own group id only."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> "Proc":
        log = open(self.log_path, "w")  # noqa: SIM115 — kept open for the process's life
        self.started_at = time.time()
        self.process = subprocess.Popen(  # noqa: S603
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        STARTED.append(self)
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return time.time()
            if not self.alive:
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: no {text!r} after {timeout} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole group: the main process and its pool children, no clean-up."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def stop_all() -> None:
    for proc in reversed(STARTED):
        try:
            proc.stop()
        except Exception as exc:  # keep stopping the others
            print(f"could not stop {proc.name}: {exc}", file=sys.stderr)


def celery_worker(scratch: Scratch, name: str, concurrency: int = 2) -> Proc:
    """Vigil's worker as `make worker` starts it (prefork, --concurrency 2, INFO), with the
    benchmark's app module: config.celery plus a no-op task and sweep timing."""
    argv = [sys.executable, "-m", "celery", "-A", "bench.celery_app", "worker", "-Q", "celery,sla"]
    argv += ["--loglevel", "INFO", "--concurrency", str(concurrency), "-n", f"{name}@%h"]
    return Proc(name, argv, scratch.env(), scratch.tmp)


def celery_beat(scratch: Scratch) -> Proc:
    """Vigil's beat as `make beat` starts it (django-celery-beat's database scheduler)."""
    argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
    argv += ["--pidfile", str(scratch.tmp / "beat.pid"), "-s", str(scratch.tmp / "beat-sched")]
    return Proc("beat", argv, scratch.env(), scratch.tmp)


def load_generator(scratch: Scratch, rate: float, seconds: float) -> Proc:
    argv = [sys.executable, str(ROOT / "bench" / "load.py"), str(rate), str(seconds)]
    return Proc("load", argv, scratch.env(), scratch.tmp)


# — the box ——————————————————————————————————————————————————————————————————————————


def fdatasync_rate(seconds: int = 1) -> float | None:
    """pg_test_fsync's fdatasync ops/s (stopped once that line is printed, ~2 s)."""
    binary = shutil.which("pg_test_fsync")
    if binary is None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_test_fsync"))
        binary = str(found[-1]) if found else None
    if binary is None:
        return None
    probe = Path(tempfile.mkdtemp(prefix="vigil-fsync-")) / "probe"
    proc = subprocess.Popen(  # noqa: S603
        [binary, "-s", str(seconds), "-f", str(probe)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    rate = None
    try:
        deadline = time.monotonic() + 20
        for line in proc.stdout:
            match = re.match(r"\s*fdatasync\s+([\d.]+) ops/sec", line)
            if match:
                rate = float(match.group(1))
                break
            if time.monotonic() > deadline:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(probe.parent, ignore_errors=True)
    return rate


class CpuSampler:
    """Share of the box's CPU time that was busy between two readings of /proc/stat."""

    @staticmethod
    def read() -> tuple[int, int] | None:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except OSError:
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    @staticmethod
    def busy(before, after) -> float | None:
        if not before or not after or after[0] == before[0]:
            return None
        total, idle = after[0] - before[0], after[1] - before[1]
        return round(100 * (total - idle) / total, 1)


class CpuAccount:
    """Who used the box's CPU between two snapshots: all of it (/proc/stat), the benchmark's
    own processes (its process groups, this process, and the PostgreSQL backends connected to
    the scratch database), and — the difference — everything else on the box (other users,
    shared PostgreSQL/Redis housekeeping). Redis is shared and counted as "other"."""

    def __init__(self, db_name: str):
        self.db_name = db_name

    def _backends(self) -> set[int]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.db_name])
            return {row[0] for row in cursor.fetchall()}

    def snapshot(self) -> dict | None:
        box = CpuSampler.read()
        if box is None:
            return None
        groups = {proc.process.pid for proc in STARTED if proc.alive}
        wanted = self._backends() | {os.getpid()}
        ticks = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                raw = stat.read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            pid, pgrp = int(stat.parent.name), int(fields[2])
            if pid in wanted or pgrp in groups:
                ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        return {"box": box, "ticks": ticks}

    @staticmethod
    def between(before: dict | None, after: dict | None) -> dict | None:
        if not before or not after:
            return None
        total = after["box"][0] - before["box"][0]
        idle = after["box"][1] - before["box"][1]
        if total <= 0:
            return None
        ours = sum(t - before["ticks"].get(pid, 0) for pid, t in after["ticks"].items())
        busy = total - idle
        return {
            "box_busy_percent": round(100 * busy / total, 1),
            "benchmark_percent": round(100 * ours / total, 1),
            "other_percent": round(100 * max(0, busy - ours) / total, 1),
        }


def box_info(scratch: Scratch) -> dict:
    import celery
    import django
    import kombu
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "synchronous_commit", "max_connections", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    client = scratch.redis()
    redis_version = client.info("server").get("redis_version")
    client.close()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": platform.node(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "mem_gib": _mem_gib(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": pg_version,
        "postgresql_settings": settings,
        "redis_server": redis_version,
        "fdatasync_ops_s": fdatasync_rate(),
        "loadavg_at_start": _loadavg(),
        "cpu_busy_percent_before_start": _busy_for(2.0),
    }


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _busy_for(seconds: float) -> float | None:
    """How busy the box is before the benchmark starts anything (other work on it)."""
    before = CpuSampler.read()
    time.sleep(seconds)
    return CpuSampler.busy(before, CpuSampler.read())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


# — statistics ————————————————————————————————————————————————————————————————————————


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values, digits: int = 3) -> dict:
    values = sorted(values)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": round(values[0], digits),
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(values[-1], digits),
        "mean": round(sum(values) / len(values), digits),
    }


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)
