"""Secrets Vigil must send or use again (a PagerDuty routing key, a webhook signing secret),
so they cannot be stored hashed. Stored either sealed — `fernet:<token>`, encrypted with a key
derived from `VIGIL_SECRETS_KEY` (else `SECRET_KEY`) — or as a reference `env:NAME` to an
environment variable read when the secret is used. Never rendered back: pages show only how
it is stored (`describe`)."""

import base64
import hashlib
import os
import re

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

ENV_REFERENCE = re.compile(r"env:([A-Z_][A-Z0-9_]{0,99})")


class SecretUnavailable(Exception):
    """The stored secret cannot be read: its environment variable is unset, or it was sealed
    with another key."""


def _fernet() -> Fernet:
    material = getattr(settings, "VIGIL_SECRETS_KEY", "") or settings.SECRET_KEY
    digest = hashlib.sha256(b"vigil-secrets:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str) -> str:
    """What to store for `value`: an `env:NAME` reference as given, anything else encrypted."""
    if ENV_REFERENCE.fullmatch(value):
        return value
    return "fernet:" + _fernet().encrypt(value.encode()).decode()


def reveal(stored: str) -> str:
    if not stored:
        return ""
    if match := ENV_REFERENCE.fullmatch(stored):
        value = os.environ.get(match.group(1), "")
        if not value:
            raise SecretUnavailable(f"environment variable {match.group(1)} is not set")
        return value
    if stored.startswith("fernet:"):
        try:
            return _fernet().decrypt(stored.removeprefix("fernet:").encode()).decode()
        except InvalidToken:
            raise SecretUnavailable("sealed with another key (was SECRET_KEY changed?)") from None
    raise SecretUnavailable("not a sealed value")


def describe(stored: str) -> str:
    """How a secret is stored, in words, without the secret."""
    if not stored:
        return "not set"
    if match := ENV_REFERENCE.fullmatch(stored):
        return f"from the environment variable {match.group(1)}"
    return "stored encrypted"
