"""Secrets Vigil must send or use again (a PagerDuty routing key, a webhook signing secret),
so they cannot be stored hashed. Stored either sealed — `fernet:<token>`, encrypted with a key
derived from `VIGIL_SECRETS_KEY` (else `SECRET_KEY`) — or as a reference `env:NAME` to an
environment variable read when the secret is used. Only VIGIL_PAGERDUTY_* variables may be
named (checked when saved and again when read), so an org admin cannot reach SECRET_KEY or
any other server variable. Never rendered back: pages show only how
it is stored (`describe`)."""

import base64
import hashlib
import os
import re

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

ENV_PREFIX = "VIGIL_PAGERDUTY_"
ENV_REFERENCE = re.compile(r"env:(VIGIL_PAGERDUTY_[A-Z0-9_]{1,84})")
# Anything that looks like an environment reference, allowed or not (refused, never sealed as a
# literal secret).
ANY_ENV_REFERENCE = re.compile(r"env:.*", re.DOTALL)


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
    if ANY_ENV_REFERENCE.fullmatch(stored):
        match = ENV_REFERENCE.fullmatch(stored)
        value = os.environ.get(match.group(1), "") if match else ""
        if not value:
            # The same words whether the name is not allowed or not set.
            raise SecretUnavailable(f"no set environment variable named {ENV_PREFIX}…")
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
    if ANY_ENV_REFERENCE.fullmatch(stored):
        # Saved before only VIGIL_PAGERDUTY_* names were allowed: never read.
        return f"from an environment variable that is not read (use env:{ENV_PREFIX}NAME)"
    return "stored encrypted"
