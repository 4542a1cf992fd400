"""Sessions: a new key at sign-in, 30 minutes idle and 12 hours absolute, last activity
written at most once a minute, sign out everywhere (the user, or an admin of their org),
and deactivation ends every session."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import SecurityEvent, UserSession
from accounts.sessions import LOGIN_AT, SEEN_AT
from accounts.tasks import clear_expired_sessions_task
from tenancy.models import Membership
from tests.accounts.conftest import password_step, signed_in_user_id
from tests.conftest import StrictClient
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def shift(client: Client, key: str, seconds: float) -> None:
    """Move one of the session's clocks `seconds` into the past."""
    session = client.session
    session[key] -= seconds
    session.save()


def signed_in(user) -> StrictClient:
    client = StrictClient()
    password_step(client, user)
    assert signed_in_user_id(client) == str(user.pk)
    return client


def test_the_session_key_changes_at_sign_in(client, responder):
    client.get("/accounts/login/")
    session = client.session
    session["before"] = True
    session.save()
    before = session.session_key
    password_step(client, responder)
    assert client.session.session_key != before
    assert not Session.objects.filter(session_key=before).exists()
    assert UserSession.objects.filter(
        user=responder, session_id=client.session.session_key
    ).exists()


def test_a_session_idle_for_more_than_30_minutes_ends(client, responder):
    password_step(client, responder)
    key = client.session.session_key
    shift(client, SEEN_AT, 30 * 60 + 1)
    response = client.get("/o/acme/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/o/acme/"
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(user=responder).exists()
    assert SecurityEvent.objects.get(kind=SecurityEvent.Kind.SESSION_EXPIRED).detail == {
        "reason": "idle"
    }


def test_a_session_older_than_12_hours_ends_even_when_active(client, responder):
    password_step(client, responder)
    shift(client, LOGIN_AT, 12 * 3600 + 1)
    response = client.get("/o/acme/")
    assert response.status_code == 302
    assert signed_in_user_id(client) is None


def test_the_limits_are_settings(client, responder, settings):
    settings.VIGIL_SESSION_IDLE_SECONDS = 60
    password_step(client, responder)
    shift(client, SEEN_AT, 61)
    assert client.get("/o/acme/").status_code == 302


def test_an_active_session_goes_on_and_last_activity_is_written_at_most_once_a_minute(
    client, responder
):
    password_step(client, responder)
    shift(client, SEEN_AT, 29 * 60)
    seen = client.session[SEEN_AT]
    assert client.get("/o/acme/").status_code == 200
    moved = client.session[SEEN_AT]
    assert moved > seen  # more than a minute since: written
    assert client.get("/o/acme/").status_code == 200
    assert client.session[SEEN_AT] == moved  # seconds later: not written again


def test_after_sign_out_the_old_cookie_is_worthless(client, responder):
    password_step(client, responder)
    cookie = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    thief = StrictClient()
    thief.cookies["sessionid"] = cookie
    assert thief.get("/o/acme/").status_code == 302


def test_sign_out_everywhere_ends_every_session_of_the_user(responder, other_responder):
    laptop, phone = signed_in(responder), signed_in(responder)
    colleague = signed_in(other_responder)
    response = laptop.post("/accounts/security/sessions/end/")
    assert response.status_code == 302
    assert phone.get("/o/acme/").status_code == 302
    assert laptop.get("/o/acme/").status_code == 302
    assert colleague.get("/o/acme/").status_code == 200
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SESSIONS_ENDED)
    assert event.detail["count"] == 2


def test_the_security_page_counts_the_sessions(responder):
    signed_in(responder)
    client = signed_in(responder)
    response = client.get("/accounts/security/")
    assert response.status_code == 200
    assert "signed in 2 times" in response.content.decode()


def member_of(user, org):
    return Membership.objects.with_scopes_disabled().get(user=user, organization=org)


def test_an_admin_signs_a_member_out_everywhere(acme, admin, responder):
    member = signed_in(responder)
    url = f"/o/acme/settings/members/{member_of(responder, acme).pk}/sessions/end/"
    response = signed_in(admin).post(url)
    assert response.status_code == 302
    assert member.get("/o/acme/").status_code == 302
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.SESSIONS_ENDED)
    assert event.detail["by"] == admin.email


def test_the_members_page_offers_it(acme, admin, responder):
    response = signed_in(admin).get("/o/acme/settings/members/")
    url = f"/o/acme/settings/members/{member_of(responder, acme).pk}/sessions/end/"
    assert url in response.content.decode()


def test_an_admin_of_another_organisation_gets_404_and_nothing_ends(acme, stranger, responder):
    member = signed_in(responder)
    pk = member_of(responder, acme).pk
    client = signed_in(stranger)
    assert client.post(f"/o/acme/settings/members/{pk}/sessions/end/").status_code == 404
    # nor through their own organisation's URL with acme's membership id
    assert client.post(f"/o/globex/settings/members/{pk}/sessions/end/").status_code == 404
    assert member.get("/o/acme/").status_code == 200


def test_a_viewer_may_not_end_others_sessions(acme, viewer, responder):
    member = signed_in(responder)
    url = f"/o/acme/settings/members/{member_of(responder, acme).pk}/sessions/end/"
    assert signed_in(viewer).post(url).status_code == 403
    assert member.get("/o/acme/").status_code == 200
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SESSIONS_ENDED).exists()


def test_a_get_ends_nothing(acme, admin, responder):
    member = signed_in(responder)
    url = f"/o/acme/settings/members/{member_of(responder, acme).pk}/sessions/end/"
    assert signed_in(admin).get(url).status_code == 405
    assert member.get("/o/acme/").status_code == 200


def test_deactivating_a_user_ends_their_sessions(responder):
    member = signed_in(responder)
    responder.is_active = False
    responder.save()
    assert member.get("/o/acme/").status_code == 302
    assert not UserSession.objects.filter(user=responder).exists()


def test_a_password_change_keeps_this_session_ends_the_others_and_stays_indexed(responder):
    here, elsewhere = signed_in(responder), signed_in(responder)
    response = here.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "violet-lantern-orbit-42",
            "new_password2": "violet-lantern-orbit-42",
        },
    )
    assert response.status_code == 302
    assert here.get("/o/acme/").status_code == 200
    assert elsewhere.get("/o/acme/").status_code == 302
    # the current (rotated) key is in the index, so "sign out everywhere" still reaches it
    assert UserSession.objects.filter(user=responder, session_id=here.session.session_key).exists()


def test_the_nightly_task_deletes_expired_sessions_and_their_index(responder, other_responder):
    signed_in(responder)
    live = signed_in(other_responder)
    Session.objects.filter(usersession__user=responder).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    clear_expired_sessions_task()
    assert not UserSession.objects.filter(user=responder).exists()
    assert UserSession.objects.filter(user=other_responder).exists()
    assert live.get("/o/acme/").status_code == 200
