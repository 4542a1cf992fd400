"""Throwaway servers for the fault tests: a private PostgreSQL 15 cluster, a private Redis, and
Vigil's real processes (gunicorn, a Celery worker) pointed at them. The machine's shared
PostgreSQL and Redis are never touched: these tests stop and start only what they started,
by PID or by their own data directory."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRET_KEY = "reliability-tests-only-" + "x" * 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, timeout: float, what: str, interval: float = 0.05):
    """Poll `check()` until it returns something truthy; its value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as error:  # noqa: BLE001 — not ready yet
            last = error
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout} s (last error: {last!r})")


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PrivatePostgres:
    """A PostgreSQL 15 cluster in a temporary directory, on a free loopback port."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-fault-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])  # fmt: skip

    def _run(self, argv: list[str], timeout: float = 60) -> None:
        result = subprocess.run(  # noqa: S603
            _as_postgres(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                   "-o", options, "-w", "-t", "30", "start"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(name), autocommit=True, connect_timeout=5)

    def copy(self, template: str, name: str) -> str:
        """A new database `name` copied from `template` (seconds, not a migrate): its URL."""
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except Exception:  # noqa: BLE001 — the directory goes anyway
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Proc:
    """A subprocess in its own process group, output in a log file; stopped by its PID."""

    def __init__(self, name: str, argv: list[str], env: dict, logdir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = logdir / f"{name}-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Proc":
        log = open(self.log_path, "w")  # noqa: SIM115 — kept open for the process's life
        self.process = subprocess.Popen(  # noqa: S603
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group (children too): nothing gets to clean up."""
        if self.alive:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=15)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class PrivateRedis(Proc):
    def __init__(self, logdir: Path):
        self.port = free_port()
        super().__init__(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],  # fmt: skip
            dict(os.environ),
            logdir,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        import redis

        super().start()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(client.ping, 15, "redis-server answering")
        client.close()
        return self


def vigil_env(database_url: str, redis_url: str, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "TEST_DATABASE_NAME", "TEST_BROKER_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="INFO",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PYTHONUNBUFFERED="1",
        SLA_SWEEP_SECONDS="3600",
        STATIC_MANIFEST="0",  # no collectstatic for the tests: plain static files
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str, timeout: float = 180) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
    return result.stdout


def python(env: dict, code: str, timeout: float = 60) -> str:
    """Run `code` in a fresh Django process against the private servers; its stdout."""
    prologue = "import django\ndjango.setup()\n"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", prologue + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"script failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return result.stdout


class Gunicorn(Proc):
    def __init__(self, env: dict, logdir: Path, workers: int = 2):
        self.port = free_port()
        super().__init__(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                "--logger-class",
                "config.redact.RedactingGunicornLogger",
            ],  # fmt: skip
            env,
            logdir,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Gunicorn":
        super().start()

        def up():
            if not self.alive:
                raise RuntimeError(f"gunicorn exited:\n{self.output()[-3000:]}")
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200

        try:
            wait_for(up, 30, "gunicorn answering /healthz", interval=0.1)
        except TimeoutError:
            raise TimeoutError(f"gunicorn not answering:\n{self.output()[-3000:]}") from None
        return self


class CeleryWorker(Proc):
    def __init__(self, env: dict, logdir: Path, concurrency: int = 1):
        super().__init__(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "-Q",
                "celery,sla",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--pool",
                "prefork",
                "-n",
                f"fault{time.monotonic_ns()}@%h",
            ],  # fmt: skip
            env,
            logdir,
        )

    def start(self) -> "CeleryWorker":
        super().start()

        def ready():
            if not self.alive:
                raise RuntimeError(f"worker exited:\n{self.output()[-3000:]}")
            return " ready." in self.output()

        try:
            wait_for(ready, 45, "Celery worker ready", interval=0.1)
        except TimeoutError:
            raise TimeoutError(f"worker not ready:\n{self.output()[-3000:]}") from None
        return self

    def children(self) -> list[int]:
        """The prefork pool's child PIDs."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []
