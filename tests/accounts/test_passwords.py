"""Password rules: Django's four validators (12 characters at least, the 20,000 common
passwords) and no e-mail name or organisation name inside."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def messages_for(password, user=None) -> str:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return " ".join(error.messages)
    return ""


def test_a_long_unusual_password_is_accepted(responder):
    assert messages_for("violet-lantern-orbit-42", responder) == ""


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw-1", "at least 12 characters"),
        ("1qaz2wsx3edc", "too common"),
        ("48291037561234", "entirely numeric"),
        ("my-rita-password-77", "e-mail"),
        ("acme-payments-rules", "organisation"),
        ("I-love-AcmePayments", "organisation"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(responder, password, message):
    assert message in messages_for(password, responder)


def test_the_change_password_page_refuses_a_weak_one_and_accepts_a_good_one(client, responder):
    client.force_login(responder)
    assert client.get("/accounts/password_change/").status_code == 200
    weak = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "short-pw-1", "new_password2": "short-pw-1"},
    )
    assert weak.status_code == 200
    assert "at least 12 characters" in weak.content.decode()
    good = "violet-lantern-orbit-42"
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": good, "new_password2": good},
    )
    assert response.status_code == 302
    responder.refresh_from_db()
    assert responder.check_password(good)
