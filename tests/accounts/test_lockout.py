"""Login throttling (django-axes): five failures from one address lock that account there for
15 minutes, decided before any password hash is computed, written to the security log."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command

from accounts.models import SecurityEvent
from tests.accounts.conftest import LOGIN, password_step, signed_in_user_id

pytestmark = pytest.mark.django_db


def fail_five_times(client, user):
    return [password_step(client, user, password="wrong-password-1234") for _ in range(5)]


def test_the_fifth_failure_locks_and_the_correct_password_is_then_refused_without_hashing(
    client, responder, counting_hasher
):
    # given four failed attempts, each answered on the login page
    responses = fail_five_times(client, responder)
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert counting_hasher.verify_calls == 5
    # when the right password is sent while locked
    counting_hasher.verify_calls = 0
    response = password_step(client, responder)
    # then it is refused with 429 and a page that says how long to wait, without hashing
    assert response.status_code == 429
    assert counting_hasher.verify_calls == 0
    text = response.content.decode()
    assert "Too many attempts" in text
    assert "Try again in 15 minutes" in text
    assert response["Retry-After"] == "900"
    assert signed_in_user_id(client) is None


def test_failures_and_the_lockout_are_in_the_security_log(client, responder):
    fail_five_times(client, responder)
    password_step(client, responder)
    events = SecurityEvent.objects.filter(user=responder)
    # four plain failures, then the fifth locks and the sixth is refused: two lockout events
    assert events.filter(kind=SecurityEvent.Kind.LOGIN_FAILED).count() == 4
    locked = events.filter(kind=SecurityEvent.Kind.LOCKED_OUT)
    assert locked.count() == 2
    assert locked.first().ip_address == "127.0.0.1"
    assert locked.first().username == responder.email
    assert not events.filter(kind=SecurityEvent.Kind.LOGIN).exists()


def test_a_failed_login_for_an_unknown_address_is_logged_without_a_user(client, db):
    client.post("/accounts/login/", {"username": "nobody@x.test", "password": "x" * 12})
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LOGIN_FAILED)
    assert event.user is None
    assert event.username == "nobody@x.test"


def test_the_lock_is_per_account_and_address(client, responder):
    fail_five_times(client, responder)
    # from another address the same account signs in
    response = password_step(client, responder, REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(responder.pk)


def test_the_lock_ends_after_the_cool_off(client, responder):
    fail_five_times(client, responder)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    response = password_step(client, responder)
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(responder.pk)


def test_an_operator_unlocks_with_axes_reset_username(client, responder):
    fail_five_times(client, responder)
    assert password_step(client, responder).status_code == 429
    call_command("axes_reset_username", responder.email, stdout=open("/dev/null", "w"))  # noqa: SIM115
    response = password_step(client, responder)
    assert response.status_code == 302


def test_an_org_admin_finds_a_members_lockout_in_the_sign_in_log(
    client, acme, admin, responder, stranger
):
    fail_five_times(client, responder)
    client.force_login(admin)
    response = client.get("/o/acme/settings/members/sign-in-log/?kind=locked_out")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Locked out" in text
    assert responder.email in text
    # another organisation's admin sees nothing of it
    client.force_login(stranger)
    assert client.get("/o/acme/settings/members/sign-in-log/").status_code == 404
    other = client.get("/o/globex/settings/members/sign-in-log/")
    assert responder.email not in other.content.decode()


def test_a_viewer_may_not_read_the_sign_in_log(client, viewer):
    client.force_login(viewer)
    assert client.get("/o/acme/settings/members/sign-in-log/").status_code == 403


def test_spelling_the_address_differently_does_not_reset_the_count(client, responder):
    for spelling in (
        "rita@acme.test",
        "Rita@acme.test",
        "RITA@ACME.TEST",
        " rita@Acme.test",
        "rita@acme.TEST",
    ):
        response = client.post(LOGIN, {"username": spelling, "password": "wrong-password-1234"})
    assert response.status_code == 429
    assert password_step(client, responder).status_code == 429
