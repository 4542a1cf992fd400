"""Keep secrets out of every log: Django's request log and gunicorn's access log both print
paths, and `/hooks/<id>/<secret>/` carries a secret in the path; a query string can carry a
webhook secret (`?secret=`); an exception's text can quote a header, a token or a form field.
`redact()` is applied to every line the formatters write (config.logging) and by the filters
below; docs/logging.md lists what it removes."""

import logging
import re

from gunicorn.glogging import Logger

HOOK_SECRET = re.compile(r"(/hooks/(?!ticketing/|pagerduty/)[^/\s?]+/)(?!heartbeat\b)([^/\s?]+)")
_KEYWORDS = (
    r"secret|token|password|passwd|pwd|credential|api[_-]?key|routing[_-]?key|access[_-]?key"
    r"|signature|sig|otp[_-]?token|otp|totp|code|sessionid|session[_-]?key|csrftoken"
    r"|csrfmiddlewaretoken"
)
# Ordered: the most specific shapes first.
PATTERNS = [
    # A whole Authorization (or Cookie) header value, whatever its scheme.
    (
        re.compile(r"(?i)((?:proxy-)?authorization|cookie)([\"']?\s*[:=]\s*[\"']?)[^\"'\n]+"),
        r"\1\2[secret]",
    ),
    # An API token anywhere: vgl_<lookup>_<secret>.
    (re.compile(r"\bvgl_[A-Za-z0-9_-]+"), "vgl_[token]"),
    # Fernet tokens (ticketing credentials, PagerDuty secrets as stored).
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), "[encrypted]"),
    # Credentials after their scheme: "Bearer abc", "Basic dXNlcjpwYXNz" (base64-looking).
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=:-]{4,}"), r"\1\2[secret]"),
    (
        re.compile(r"(?i)\b(basic)(\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}=*"),
        r"\1\2[secret]",
    ),
    # key=value, key: value, "key": "value" for every secret-looking key (query strings, form
    # bodies, headers, dict reprs, JSON).
    (
        re.compile(
            rf"(?i)(?<![a-z0-9])((?:{_KEYWORDS})[\w-]*[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[)([^\s\"'&,;})\]]+)"
        ),
        r"\1[secret]",
    ),
]


def redact(text: str) -> str:
    text = HOOK_SECRET.sub(r"\1[secret]", text)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactHookSecrets(logging.Filter):
    """A logging filter for Django's loggers (django.request, django.server): every secret
    `redact` knows, in the message and its arguments."""

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
