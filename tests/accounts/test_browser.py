"""In the browser (Debian's chromium via Playwright, against the live server): an admin whose
role requires two-factor signs in, is sent to set it up, scans (reads) the secret, confirms,
sees the recovery codes once; next time the code step follows the password. Screenshots go
to /tmp/shots-auth/."""

from base64 import b32decode
from pathlib import Path

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from tenancy.roles import Role
from tests.e2e.conftest import browser_type_launch_args  # noqa: F401 — shared
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-auth")  # noqa: S108 — where the brief asks for them


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/?next=/o/acme/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_sets_up_two_factor_and_then_signs_in_with_a_code(
    page: Page, base_url, acme, make_member, settings
):
    settings.VIGIL_2FA_REQUIRED_ROLES = ["admin", "compliance"]
    make_member(acme, Role.ADMIN, email="ada@acme.test", full_name="Ada Admin")
    # when the admin signs in with their password
    sign_in(page, "ada@acme.test")
    # then they are asked to set up two-factor, with a QR code and the secret to type in
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    shot(page, "enrol")
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    totp = TOTP(b32decode(secret))
    # when they enter the code their app shows
    page.get_by_label("Code from the app").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Confirm").click()
    # then the ten recovery codes are shown, once
    codes = page.get_by_test_id("recovery-codes").locator("code")
    expect(codes).to_have_count(10)
    shot(page, "recovery-codes")
    recovery = codes.first.inner_text()
    page.get_by_role("link", name="I have saved them").click()
    expect(page).to_have_url(f"{base_url}/o/acme/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Payments")

    # when they sign out and in again
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "ada@acme.test")
    # then the code step follows the password
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    shot(page, "code-step")
    # and a recovery code lets them in
    page.get_by_label("Code").fill(recovery)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{base_url}/o/acme/")
    expect(page.get_by_text("You signed in with a recovery code; 9 left")).to_be_visible()
    # and the account security page shows two-factor on, the codes left and the sessions
    page.goto("/accounts/security/")
    expect(page.get_by_text("9 unused recovery codes")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out everywhere")).to_be_visible()
    shot(page, "security")


def test_a_locked_out_sign_in_gets_the_too_many_attempts_page(page: Page, acme, make_member):
    make_member(acme, Role.RESPONDER, email="remy@acme.test")
    page.goto("/accounts/login/")
    for _ in range(5):
        page.get_by_label("E-mail address").fill("remy@acme.test")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Try again in 15 minutes")
    shot(page, "locked-out")
