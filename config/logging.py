"""Structured logs (docs/logging.md): one JSON object per line on stdout, with the request id,
organisation, user and path of the request (or the Celery task) that wrote it — and nothing
that must not be in a log: secrets, tokens, passwords, session ids, one-time codes, encrypted
values and personal data are scrubbed from every line, whatever logger wrote it.

Selected by LOG_FORMAT=json|plain (settings: json unless DEBUG is on). The plain format keeps
the human-readable line, with the same scrubbing and control characters escaped."""

import contextvars
import datetime
import json
import logging
import re

from config.redact import redact

# What the current request or task is; set by config.middleware.RequestIdMiddleware and the
# Celery signal handlers below, read by the formatters.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("vigil_request_id", default="")
REQUEST: contextvars.ContextVar[object] = contextvars.ContextVar("vigil_request", default=None)
TASK: contextvars.ContextVar[tuple] = contextvars.ContextVar("vigil_task", default=())

# \n, \r, the other C0/C1 controls and the Unicode line separators: a log line is one line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\n\r\t]")


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with newlines and control characters written as escapes (`\\n`, `\\x1b`): a value
    logged from a request cannot start a forged line (log injection)."""

    def one(match: re.Match) -> str:
        char = match.group()
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or char.encode(
            "unicode_escape"
        ).decode("ascii")

    return _CONTROL.sub(one, text)


def scrub(text: str) -> str:
    """Secrets and personal data out of `text` (config.redact's list, then compliance masking)."""
    text = redact(text)
    try:
        from compliance.masking import mask_text
    except Exception:  # noqa: BLE001 — before the apps load, the secrets are still scrubbed
        return text
    return mask_text(text)


def _user_id(request) -> int | None:
    """The signed-in user's id when authentication already ran — never triggers a query."""
    user = request.__dict__.get("user") if request is not None else None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or type(wrapped).__name__ == "object":  # SimpleLazyObject not evaluated
        return None
    return getattr(wrapped, "pk", None) if getattr(wrapped, "is_authenticated", False) else None


def _org() -> str | None:
    """The organisation's slug (a request's), else the id of the tenant scope (a task's)."""
    request = REQUEST.get()
    org = getattr(request, "org", None) if request is not None else None
    if org is not None:
        return getattr(org, "slug", None)
    try:
        from django_scopes import get_scope

        value = get_scope().get("organization")
    except Exception:  # noqa: BLE001
        return None
    if value is None or isinstance(value, list | tuple | set | bool):
        return None
    return getattr(value, "slug", None) or str(value)


def context() -> dict:
    """The request (or task) fields of a record."""
    request = REQUEST.get()
    fields = {
        "request_id": REQUEST_ID.get() or None,
        "org": _org(),
        "user": _user_id(request),
        "path": redact(getattr(request, "path", "")) or None,  # never the query string
    }
    task = TASK.get()
    if task:
        fields["task"], fields["task_id"] = task
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, message, request_id, org,
    user, path, task/task_id (Celery), exc (a traceback, scrubbed). JSON escaping keeps every
    record on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(self.fields(record), ensure_ascii=False, default=str)
        # JSON escapes C0 controls; these it leaves raw, and some readers break lines on them.
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)

    def fields(self, record: logging.LogRecord) -> dict:
        ts = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        document = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            **context(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc"] = scrub(record.exc_text)
        if record.stack_info:
            document["stack"] = scrub(self.formatStack(record.stack_info))
        return document


class PlainFormatter(logging.Formatter):
    """The human line for development: `time level logger [request id] message`, scrubbed, the
    message's control characters escaped (tracebacks keep their lines)."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 — logging's name
        record.message = escape_controls(scrub(record.message))
        request_id = REQUEST_ID.get()
        if request_id:
            record.message = f"[{request_id}] {record.message}"
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802
        return scrub(super().formatException(ei))


def task_started(sender=None, task_id=None, task=None, **kwargs) -> None:
    """Celery's task_prerun: the task's name and id on every line it logs (its organisation
    comes from the tenant scope the task enters)."""
    TASK.set((getattr(task, "name", str(sender)), task_id))
    REQUEST_ID.set(f"task-{task_id}" if task_id else "")


def task_finished(**kwargs) -> None:
    TASK.set(())
    REQUEST_ID.set("")


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(task_started, weak=False)
    task_postrun.connect(task_finished, weak=False)
