"""Fixtures for signing in: a counting hasher, authenticators, codes, the two-factor rule."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"
CODE = "/accounts/login/code/"


class CountingHasher(MD5PasswordHasher):
    """The suite's MD5 hasher, counting how often a password is checked."""

    verify_calls = 0

    def verify(self, password, encoded):
        type(self).verify_calls += 1
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.accounts.conftest.CountingHasher"]
    CountingHasher.verify_calls = 0
    return CountingHasher


@pytest.fixture
def two_factor_required(settings):
    """The production rule: admins and compliance officers must use two-factor."""
    settings.VIGIL_2FA_REQUIRED_ROLES = ["admin", "compliance"]


def code_now(device: TOTPDevice, steps: int = 0) -> str:
    """The code the user's app shows now (or `steps` × 30 s from now)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def authenticator():
    """authenticator(user) → a confirmed TOTP device and the user's 10 recovery codes."""

    def make(user):
        device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
        codes = services.recovery_codes_create(user=user)
        return device, codes

    return make


def password_step(client, user, password=PASSWORD, next_path="", **extra):
    data = {"username": user.email, "password": password}
    if next_path:
        data["next"] = next_path
    return client.post(LOGIN, data, **extra)


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")
