"""Measure (not part of `make test`, prints figures for docs/security.md):

    pytest tests/accounts/measure_lockout.py -s

With Django's real PBKDF2 hasher: the time to answer a wrong password (the hash is checked)
and the time to refuse a locked-out sign-in (it is not). Medians over 50 attempts."""

import statistics
import time

import pytest
from django.conf import global_settings

from accounts.models import SecurityEvent
from tests.accounts.conftest import LOGIN
from tests.conftest import StrictClient

pytestmark = pytest.mark.django_db


def timed(client, data, **extra) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(LOGIN, data, **extra)
    return (time.perf_counter() - started) * 1000, response.status_code


def test_measure_locked_and_unlocked_response_times(settings, responder):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    responder.set_password("violet-lantern-orbit-42")
    responder.save()
    client = StrictClient()
    wrong = {"username": responder.email, "password": "not-the-password-1"}
    # unlocked wrong passwords: each from its own address, so none locks
    unlocked = [timed(client, wrong, REMOTE_ADDR=f"10.1.0.{i}") for i in range(1, 51)]
    assert {status for _, status in unlocked} == {200}
    # lock the account from one address (5 failures), then 50 attempts with the right password
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, wrong, REMOTE_ADDR="10.2.0.1")
    right = {"username": responder.email, "password": "violet-lantern-orbit-42"}
    locked = [timed(client, right, REMOTE_ADDR="10.2.0.1") for _ in range(50)]
    assert {status for _, status in locked} == {429}
    # the lockout and every refused attempt are in the security log
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOCKED_OUT).count() == 51
    for name, values in (("unlocked wrong password", unlocked), ("locked", locked)):
        ms = sorted(v for v, _ in values)
        print(
            f"{name}: median {statistics.median(ms):.1f} ms, "
            f"p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms"
        )
