"""TOTP two-factor: set-up with a QR code, the code step after the password, recovery codes,
replay and throttling, and the requirement for admin and compliance roles."""

import re

import pytest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecurityEvent
from accounts.views import PENDING
from tenancy.roles import Role
from tests.accounts.conftest import CODE, code_now, password_step, signed_in_user_id
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def setup_key(client) -> str:
    return client.session["vigil_totp_setup_key"]


def test_the_setup_page_shows_an_inline_qr_code_and_the_secret_and_writes_no_device(
    client, responder
):
    client.force_login(responder)
    response = client.get("/accounts/security/two-factor/")
    assert response.status_code == 200
    text = response.content.decode()
    assert re.search(r'data-testid="totp-qr"[^>]*><svg', text)
    secret = re.search(r'data-testid="totp-secret" class="secret">([A-Z2-7 ]+)<', text)[1]
    assert len(secret.replace(" ", "")) == 32  # 20 random bytes in base32
    assert "http" not in text.split('data-testid="totp-qr"')[1].split("</figure>")[0].replace(
        "http://www.w3.org/2000/svg", ""
    )  # no external image service
    assert not TOTPDevice.objects.filter(user=responder).exists()


def test_a_wrong_code_does_not_confirm_the_authenticator(client, responder):
    client.force_login(responder)
    client.get("/accounts/security/two-factor/")
    response = client.post("/accounts/security/two-factor/", {"code": "000000x"})
    assert response.status_code == 200
    assert "does not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=responder).exists()


def test_confirming_with_a_code_turns_two_factor_on_and_shows_ten_recovery_codes_once(
    client, responder
):
    client.force_login(responder)
    client.get("/accounts/security/two-factor/")
    device = TOTPDevice(user=responder, key=setup_key(client))
    response = client.post("/accounts/security/two-factor/", {"code": code_now(device)})
    assert response.status_code == 200
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", response.content.decode())
    assert len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=responder).confirmed
    assert set(
        StaticToken.objects.filter(device__user=responder).values_list("token", flat=True)
    ) == set(codes)
    # this session has passed two-factor, and the codes are not shown again
    assert client.session["otp_device_id"].startswith("otp_totp")
    assert "<code>" not in client.get("/accounts/security/").content.decode()
    assert SecurityEvent.objects.filter(
        user=responder, kind=SecurityEvent.Kind.TWO_FACTOR_ENROLLED
    ).exists()


def test_the_setup_code_cannot_be_replayed_at_sign_in(client, responder):
    client.force_login(responder)
    client.get("/accounts/security/two-factor/")
    code = code_now(TOTPDevice(user=responder, key=setup_key(client)))
    client.post("/accounts/security/two-factor/", {"code": code})
    client.logout()
    password_step(client, responder)
    response = client.post(CODE, {"code": code})
    assert response.status_code == 200
    assert signed_in_user_id(client) is None


def test_with_two_factor_the_password_alone_does_not_sign_in(client, responder, authenticator):
    device, _ = authenticator(responder)
    response = password_step(client, responder, next_path="/o/acme/")
    assert response.status_code == 302
    assert response["Location"] == f"{CODE}?next=%2Fo%2Facme%2F"
    assert signed_in_user_id(client) is None
    # a wrong code keeps them out and says so
    response = client.post(CODE, {"code": "123456", "next": "/o/acme/"})
    assert response.status_code == 200
    assert "not right" in response.content.decode()
    assert signed_in_user_id(client) is None
    assert SecurityEvent.objects.filter(
        user=responder, kind=SecurityEvent.Kind.CODE_FAILED
    ).exists()


def test_the_right_code_signs_in_verified_and_a_replayed_code_is_refused(
    client, responder, authenticator
):
    device, _ = authenticator(responder)
    password_step(client, responder)
    code = code_now(device)
    response = client.post(CODE, {"code": code, "next": "/o/acme/"})
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/"
    assert signed_in_user_id(client) == str(responder.pk)
    assert client.session["otp_device_id"] == device.persistent_id
    assert client.get("/o/acme/").status_code == 200
    # when the same code is sent again in a new sign-in
    client.logout()
    password_step(client, responder)
    response = client.post(CODE, {"code": code})
    # then it is refused
    assert response.status_code == 200
    assert signed_in_user_id(client) is None


def test_a_recovery_code_works_once(client, responder, authenticator):
    _, codes = authenticator(responder)
    password_step(client, responder)
    response = client.post(CODE, {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(responder.pk)
    assert StaticToken.objects.filter(device__user=responder).count() == 9
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.RECOVERY_CODE_USED).count() == 1
    client.logout()
    password_step(client, responder)
    response = client.post(CODE, {"code": codes[0]})
    assert response.status_code == 200
    assert signed_in_user_id(client) is None


def test_a_throttled_authenticator_refuses_even_the_right_code(client, responder, authenticator):
    device, _ = authenticator(responder)
    device.throttling_failure_count = 5
    device.throttling_failure_timestamp = timezone.now()
    device.save()
    password_step(client, responder)
    response = client.post(CODE, {"code": code_now(device)})
    assert response.status_code == 200
    assert "Too many wrong codes" in response.content.decode()
    assert signed_in_user_id(client) is None


def test_ten_wrong_codes_send_the_user_back_to_the_password(client, responder, authenticator):
    authenticator(responder)
    password_step(client, responder)
    for _ in range(9):
        assert client.post(CODE, {"code": "000000"}).status_code == 200
    response = client.post(CODE, {"code": "000000"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert PENDING not in client.session


def test_the_code_step_expires_five_minutes_after_the_password(client, responder, authenticator):
    device, _ = authenticator(responder)
    password_step(client, responder)
    session = client.session
    session[PENDING]["at"] -= 301
    session.save()
    response = client.post(CODE, {"code": code_now(device)})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert signed_in_user_id(client) is None


def test_new_recovery_codes_cancel_the_old_ones(client, responder, authenticator):
    device, old = authenticator(responder)
    password_step(client, responder)
    client.post(CODE, {"code": code_now(device)})
    response = client.post("/accounts/security/recovery-codes/")
    new = re.findall(r"<code>([0-9a-f-]{11})</code>", response.content.decode())
    assert len(new) == 10
    assert not set(new) & set(old)
    assert StaticToken.objects.filter(token__in=old).count() == 0


# — the requirement ———————————————————————————————————————————————————————————————————————


def test_an_admin_without_an_authenticator_is_sent_to_set_one_up(
    client, admin, two_factor_required
):
    response = password_step(client, admin, next_path="/o/acme/")
    assert response["Location"] == "/o/acme/"
    response = client.get("/o/acme/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/security/two-factor/?next=%2Fo%2Facme%2F"
    assert client.get("/o/acme/incidents/").status_code == 302
    assert client.get("/accounts/security/two-factor/").status_code == 200


def test_a_compliance_officer_with_an_unverified_session_is_sent_to_the_code_step(
    client, acme, make_member, authenticator, two_factor_required
):
    officer = make_member(acme, Role.COMPLIANCE).user
    authenticator(officer)
    client.force_login(officer)  # a session that never passed two-factor
    response = client.get("/o/acme/")
    assert response.status_code == 302
    assert response["Location"] == f"{CODE}?next=%2Fo%2Facme%2F"


def test_a_viewer_is_not_required_to_use_two_factor(client, viewer, two_factor_required):
    password_step(client, viewer)
    assert client.get("/o/acme/").status_code == 200


def test_the_required_roles_are_a_setting(client, admin, settings):
    settings.VIGIL_2FA_REQUIRED_ROLES = ["compliance"]
    password_step(client, admin)
    assert client.get("/o/acme/").status_code == 200


def test_a_required_user_cannot_turn_two_factor_off(
    client, admin, authenticator, two_factor_required
):
    device, _ = authenticator(admin)
    password_step(client, admin)
    client.post(CODE, {"code": code_now(device)})
    client.post("/accounts/security/two-factor/remove/")
    assert TOTPDevice.objects.filter(user=admin).exists()


def test_a_viewer_can_turn_two_factor_off_after_passing_it(client, viewer, authenticator):
    device, _ = authenticator(viewer)
    password_step(client, viewer)
    client.post(CODE, {"code": code_now(device)})
    response = client.post("/accounts/security/two-factor/remove/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=viewer).exists()
    assert not StaticToken.objects.filter(device__user=viewer).exists()


def test_an_unverified_session_cannot_replace_the_authenticator(client, viewer, authenticator):
    authenticator(viewer)
    client.force_login(viewer)
    response = client.get("/accounts/security/two-factor/")
    assert response.status_code == 302
    assert response["Location"].startswith(CODE)


def test_the_api_is_not_affected(client, admin, two_factor_required):
    # bearer tokens, no session: the API answers for itself (401 without a token)
    response = client.get("/api/v1/incidents/")
    assert response.status_code in (401, 403)


def test_staff_must_use_two_factor_for_the_admin(client, two_factor_required, settings):
    settings.VIGIL_2FA_REQUIRED_ROLES = ["admin", "compliance", "staff"]
    staff = UserFactory(is_staff=True, is_superuser=True)
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response["Location"] == "/accounts/login/?next=/admin/"
    password_step(client, staff, next_path="/admin/")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/security/two-factor/?next=%2Fadmin%2F"


def test_a_signed_in_non_staff_user_is_refused_the_admin_login_not_looped(client, viewer):
    client.force_login(viewer)
    assert client.get("/admin/login/?next=/admin/").status_code == 403
