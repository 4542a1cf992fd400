"""A real Celery worker process for tests whose behaviour depends on one (stack notes: it
must use the test database's name, its own Redis database, and stop before the database is
dropped)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.db import connection

from tests import logcanary

ROOT = Path(__file__).resolve().parents[1]
TEST_BROKER = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


class Worker:
    def __init__(self, concurrency: int = 2):
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / f".worker-{os.getpid()}.log"

    def env(self) -> dict:
        db = connection.settings_dict
        url = (
            f"postgres://{db['USER'] or 'postgres'}"
            f"{':' + db['PASSWORD'] if db.get('PASSWORD') else ''}"
            f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        env.update(
            DATABASE_URL=url,
            REDIS_URL=TEST_BROKER,
            DJANGO_SETTINGS_MODULE="config.settings",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            PYTHONUNBUFFERED="1",
        )
        if db.get("OPTIONS", {}).get("options"):
            env["PGOPTIONS"] = db["OPTIONS"]["options"]  # the application's role (conftest)
        return env

    def start(self, timeout: float = 30) -> "Worker":
        logcanary.keep(self.log_path)  # a restart overwrites it: searched at session end
        log = open(self.log_path, "w")  # noqa: SIM115 — kept open for the process's life
        self.process = subprocess.Popen(  # noqa: S603
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
                str(self.concurrency),
                "-Q",
                "celery,sla",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--pool",
                "prefork",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a crash kills all of it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready: {self.log_path.read_text()[-2000:]}")

    def crash(self) -> None:
        """SIGKILL the whole worker, children included: nothing gets to clean up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        logcanary.keep(self.log_path)
        self.log_path.unlink(missing_ok=True)


def flush_test_broker() -> None:
    client = redis.Redis.from_url(TEST_BROKER)
    client.flushdb()
    client.close()
