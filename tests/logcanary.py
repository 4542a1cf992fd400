"""The log canary (docs/logging.md): secrets the test suite plants — the users' password, hook
and integration secrets, API tokens, session keys, personal data that must be masked — and the
proof that none of them is ever written to a log.

Every record any logger writes during the whole session is serialised exactly as the JSON
formatter writes it in production into one file; subprocesses (the Celery worker of
tests/worker.py, or anything started with `subprocess_log()`) write theirs next to it. At the
end of the session every file is searched for every canary; a hit fails the session and
names the line."""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from config.logging import JsonFormatter

# Planted where such values are made: tests/factories.py (PASSWORD), the hook, PagerDuty and
# ticketing tests and fixtures, the canary test itself. Distinctive, so a hit is never chance.
PASSWORD = "canary-Pw-7Qx2-horse-battery"  # noqa: S105
HOOK_SECRET = "canary-hook-secret-k3Jd9sLq0ZxWv"  # noqa: S105
PAGERDUTY_WEBHOOK_SECRET = "canary-pd-whsec-Rb7Tn2Yq"  # noqa: S105
PAGERDUTY_ROUTING_KEY = "ca0a4e00b7d1c2a9e5f6a7b8c9d0e1f2"
TICKETING_TOKEN = "canary-jira-api-token-Vq4Hm"  # noqa: S105
TICKETING_PASSWORD = "canary-snow-password-Zk8Pw"  # noqa: S105
API_TOKEN_SECRET = "canarySecretPart9Lk2Jh7Gf4Ds1Aa0"  # noqa: S105 — the part after vgl_<lookup>_
PII_EMAIL = "canary.person@example.org"
PII_PHONE = "+49 30 9876 5432"

CANARIES = {
    "password": PASSWORD,
    "hook secret": HOOK_SECRET,
    "PagerDuty webhook secret": PAGERDUTY_WEBHOOK_SECRET,
    "PagerDuty routing key": PAGERDUTY_ROUTING_KEY,
    "ticketing token": TICKETING_TOKEN,
    "ticketing password": TICKETING_PASSWORD,
    "API token": API_TOKEN_SECRET,
    "masked e-mail": PII_EMAIL,
    "masked phone": PII_PHONE,
}

LOG_DIR = Path(tempfile.mkdtemp(prefix="vigil-canary-"))
SUITE_LOG = LOG_DIR / "suite.jsonl"
_planted: dict[str, str] = {}


def plant(label: str, value: str) -> str:
    """Add a value made at run time (an API token, a session key) to the canaries."""
    if value and len(value) >= 8:
        _planted[f"{label} {len(_planted) + 1}"] = value
    return value


def canaries() -> dict[str, str]:
    return {**CANARIES, **_planted}


def subprocess_log(name: str) -> Path:
    """A file for a subprocess's stdout/stderr that the end-of-session check searches."""
    return LOG_DIR / f"{name}-{os.getpid()}-{len(list(LOG_DIR.iterdir()))}.log"


def keep(path: Path) -> None:
    """Copy a subprocess log about to be removed or overwritten into the searched folder."""
    if path.exists() and path.stat().st_size:
        shutil.copyfile(path, subprocess_log(path.stem.lstrip(".")))


class SuiteHandler(logging.FileHandler):
    """Every record, as the production JSON formatter writes it."""

    def __init__(self):
        super().__init__(SUITE_LOG, encoding="utf-8", delay=False)
        self.setFormatter(JsonFormatter())
        self.setLevel(logging.DEBUG)


_handler: SuiteHandler | None = None


def attach() -> None:
    """To the root logger and to every logger that does not propagate to it."""
    global _handler  # noqa: PLW0603 — one handler for the session
    _handler = SuiteHandler()
    logging.getLogger().addHandler(_handler)
    for logger in logging.root.manager.loggerDict.values():
        if isinstance(logger, logging.Logger) and not logger.propagate:
            logger.addHandler(_handler)


def hits(extra_texts: dict[str, str] | None = None) -> list[str]:
    """Every line of every log file (and of `extra_texts`) that holds a canary."""
    if _handler is not None:
        _handler.flush()
    found = []
    sources = {p.name: p.read_text("utf-8", errors="replace") for p in LOG_DIR.iterdir()}
    sources.update(extra_texts or {})
    for name, text in sources.items():
        for number, line in enumerate(text.splitlines(), 1):
            for label, value in canaries().items():
                if value in line:
                    found.append(f"{name}:{number}: {label}: {line[:300]}")
    return found


# — pytest hooks (registered by tests/conftest.py) ——————————————————————————————————————————


def pytest_sessionstart(session):
    attach()


def pytest_sessionfinish(session, exitstatus):
    found = hits()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        if reporter:
            reporter.write_sep("=", f"log canary: {len(found)} secret(s) written to a log")
            for line in found[:50]:
                reporter.write_line(line)
        session.exitstatus = 1
    elif reporter:
        size = sum(p.stat().st_size for p in LOG_DIR.iterdir())
        reporter.write_line(
            f"log canary: {len(canaries())} canaries, {size} bytes of logs searched, no hit"
        )
    if not found:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
