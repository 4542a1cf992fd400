"""Reading settings from the environment, with one clear sentence instead of a traceback."""

import os
import sys

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def fail(sentence: str) -> None:
    """Stop the process with one sentence on stderr: bad configuration is not a crash."""
    sys.stderr.write(f"Vigil cannot start: {sentence}\n")
    raise SystemExit(2)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    fail(f"{name}={raw!r} is not a yes/no value; use 1 or 0.")
    return default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        fail(f"{name}={raw!r} is not a whole number.")
    return default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]
