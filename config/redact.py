"""Keep alert-source secrets out of every log: Django's request log and gunicorn's access log
both print paths, and `/hooks/<id>/<secret>/` carries a secret in the path."""

import logging
import re

from gunicorn.glogging import Logger

HOOK_SECRET = re.compile(r"(/hooks/[^/\s?]+/)(?!heartbeat\b)([^/\s?]+)")


def redact(text: str) -> str:
    return HOOK_SECRET.sub(r"\1[secret]", text)


class RedactHookSecrets(logging.Filter):
    """A logging filter for Django's loggers (django.request, django.server)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):  # "%(name)s" formats (Celery's task log lines)
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        elif record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = None  # error reporters would print the full request
        return True


class RedactingGunicornLogger(Logger):
    """gunicorn's logger with the request line and path redacted in access logs."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "{raw_uri}e"):
            if key in atoms and isinstance(atoms[key], str):
                atoms[key] = redact(atoms[key])
        return atoms
