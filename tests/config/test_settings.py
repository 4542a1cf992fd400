"""Bad configuration ends with one clear sentence, not a traceback; the deploy check is clean."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args, **env):
    dropped = {"DEBUG", "SECRET_KEY", "HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    # DEBUG defaults to off, which needs a SECRET_KEY: on here unless a test says otherwise.
    full_env.update({"DEBUG": "1", **env})
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_sentence(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_secret_key_with_debug_off_is_one_sentence():
    line = one_sentence(run(["manage.py", "check"], DEBUG="0"))
    assert line.startswith("Vigil cannot start: SECRET_KEY is not set")


def test_a_database_url_that_is_not_a_url_is_one_sentence():
    line = one_sentence(run(["manage.py", "check"], DATABASE_URL="nonsense"))
    assert "DATABASE_URL='nonsense' is not a database URL" in line


def test_a_database_url_for_another_engine_is_one_sentence():
    line = one_sentence(run(["manage.py", "check"], DATABASE_URL="mysql://u@127.0.0.1/vigil"))
    assert "must point at PostgreSQL" in line


def test_a_bad_yes_no_value_is_one_sentence():
    line = one_sentence(run(["manage.py", "check"], DEBUG="maybe"))
    assert "DEBUG='maybe' is not a yes/no value" in line


def test_an_unreachable_database_is_one_sentence_naming_where_and_how():
    line = one_sentence(
        run(["-m", "config.preflight"], DATABASE_URL="postgres://postgres@127.0.0.1:1/vigil")
    )
    assert "PostgreSQL at 127.0.0.1:1 is not reachable" in line
    assert "docker compose up -d db redis" in line


def test_an_unreachable_redis_is_one_sentence_naming_where_and_how():
    line = one_sentence(run(["-m", "config.preflight"], REDIS_URL="redis://127.0.0.1:1/0"))
    assert "Redis at redis://127.0.0.1:1/0 is not reachable" in line


@pytest.mark.django_db
def test_preflight_passes_against_the_running_services():
    result = run(["-m", "config.preflight"])
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        HTTPS="1",
        ALLOWED_HOSTS="vigil.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
