"""E-mail subscribers: double opt-in, the confirmation and unsubscribe links, abuse limits,
and the e-mails a published message sends (through Django's mail outbox)."""

import re
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import Delivery
from incidents.statuspage import services
from incidents.statuspage.models import ComponentState, Subscriber
from incidents.statuspage.tasks import notify_subscribers_task
from tests.statuspage.conftest import approve, draft, publish

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://\S+/status/acme/(confirm|unsubscribe)/(\S+)/")


def send_pending(mailoutbox_before=None):
    """Send what the request queued, as the delivery worker would."""
    from incidents import notify

    with scopes_disabled():
        pending = list(Delivery.objects.filter(status=Delivery.Status.PENDING))
    for delivery in pending:
        notify.deliver(delivery=delivery)


def subscribe(client, email="carol@example.com", **extra):
    return client.post("/status/acme/subscribe/", {"email": email, "website": "", **extra})


def link(mail, kind: str) -> str:
    for found in LINK.finditer(mail.body):
        if found.group(1) == kind:
            return f"/status/acme/{kind}/{found.group(2)}/"
    raise AssertionError(f"no {kind} link in {mail.body!r}")


def subscribers():
    with scopes_disabled():
        return list(Subscriber.objects.order_by("pk"))


@pytest.fixture
def confirmed(client, page_on, queued, mailoutbox, django_capture_on_commit_callbacks):
    """carol@example.com, subscribed and confirmed through the links."""
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(client)
    send_pending()
    client.post(link(mailoutbox[-1], "confirm"))
    mailoutbox.clear()
    (subscriber,) = subscribers()
    assert subscriber.is_confirmed
    return subscriber


def test_subscribing_stores_an_unconfirmed_address_and_mails_a_confirmation_link(
    client, page_on, queued, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = subscribe(client, "Carol@Example.com")

    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    (subscriber,) = subscribers()
    assert subscriber.email == "carol@example.com"
    assert not subscriber.is_confirmed
    assert len(queued["deliveries"]) == 1
    send_pending()
    (mail,) = mailoutbox
    assert mail.to == ["carol@example.com"]
    assert mail.subject == "Confirm your subscription to Acme status"
    assert link(mail, "confirm")
    assert link(mail, "unsubscribe")


def test_the_same_address_twice_within_minutes_gets_one_mail(
    client, page_on, queued, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(client)
        second = subscribe(client, "CAROL@example.com")
    send_pending()

    assert second.status_code == 200  # the same answer: the form does not tell who subscribed
    assert len(mailoutbox) == 1
    assert len(subscribers()) == 1


def test_asking_again_after_the_quiet_period_sends_a_new_link(acme, page_on, queued, mailoutbox):
    start = timezone.now()
    assert services.subscriber_request(organization=acme, email="c@example.com", now=start) == (
        "sent"
    )
    assert (
        services.subscriber_request(
            organization=acme, email="c@example.com", now=start + timedelta(minutes=5)
        )
        == "recent"
    )
    assert (
        services.subscriber_request(
            organization=acme, email="c@example.com", now=start + timedelta(minutes=11)
        )
        == "sent"
    )
    with scopes_disabled():
        assert Delivery.objects.count() == 2


def test_the_honeypot_stores_nothing(client, page_on, queued):
    response = subscribe(client, website="http://spam.example")
    assert response.status_code == 200
    assert subscribers() == []


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b", "x" * 250 + "@example.com"])
def test_a_wrong_address_is_refused_with_a_message(client, page_on, email):
    response = subscribe(client, email)
    assert response.status_code == 400
    assert b'role="alert"' in response.content
    assert subscribers() == []


def test_nobody_subscribes_to_a_page_that_is_off(client, acme):
    assert subscribe(client).status_code == 404
    assert subscribers() == []


def test_the_confirm_link_shows_a_button_confirms_on_post_and_works_once(
    client, page_on, queued, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(client)
    send_pending()
    url = link(mailoutbox[0], "confirm")

    shown = client.get(url)
    assert shown.status_code == 200
    assert b"Confirm subscription" in shown.content
    assert not subscribers()[0].is_confirmed  # a mail scanner's GET confirms nothing

    first = client.post(url)
    assert b"You are subscribed" in first.content
    confirmed_at = subscribers()[0].confirmed_at
    assert confirmed_at is not None

    again = client.post(url)
    assert b"Already confirmed" in again.content
    assert subscribers()[0].confirmed_at == confirmed_at


def test_a_tampered_link_gives_a_clear_page(client, page_on, confirmed):
    response = client.get("/status/acme/confirm/not-a-real-token/")
    assert response.status_code == 400
    assert b"This link is not valid" in response.content


def test_an_expired_link_gives_a_clear_page(client, page_on, confirmed, monkeypatch):
    issued = time.time() - services.CONFIRM_MAX_AGE.total_seconds() - 60
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    token = services._token(confirmed, services.CONFIRM_SALT)
    monkeypatch.undo()

    response = client.post(f"/status/acme/confirm/{token}/")

    assert response.status_code == 410
    assert b"This link has expired" in response.content


def test_a_link_for_another_organisation_is_refused(client, page_on, confirmed, globex):
    from incidents.statuspage.models import StatusPageSettings

    StatusPageSettings.objects.create(organization=globex, is_public=True)
    token = services._token(confirmed, services.UNSUBSCRIBE_SALT)

    response = client.post(f"/status/globex/unsubscribe/{token}/")

    assert response.status_code == 400
    assert len(subscribers()) == 1


def test_unconfirmed_subscribers_get_nothing_on_publish(
    client,
    acme,
    page_on,
    responder,
    speaker,
    queued,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(client, "pending@example.com")
    send_pending()
    mailoutbox.clear()
    message = draft(acme, responder)
    approve(acme, speaker, message)
    publish(acme, speaker, message)

    assert notify_subscribers_task(acme.pk, message.pk) == 0

    assert mailoutbox == []


def test_a_published_message_is_mailed_to_confirmed_subscribers_with_an_unsubscribe_link(
    acme, confirmed, responder, speaker, payments, incident, mailoutbox
):
    message = draft(
        acme, responder, incident=incident, affected={payments: ComponentState.PARTIAL_OUTAGE}
    )
    approve(acme, speaker, message)
    publish(acme, speaker, message)

    assert notify_subscribers_task(acme.pk, message.pk) == 1  # the task, outside any scope

    (mail,) = mailoutbox
    assert mail.to == ["carol@example.com"]
    assert mail.subject == "[Acme status] Investigating: Card payments: we are investigating"
    assert "Card payments: Partial outage" in mail.body
    assert link(mail, "unsubscribe")
    for internal in (incident.key, incident.title, "Rita", "rita@acme.test", "Sam Speaker"):
        assert internal not in mail.body
        assert internal not in mail.subject


def test_a_repeated_task_sends_nothing_twice(acme, confirmed, responder, speaker, mailoutbox):
    message = draft(acme, responder)
    approve(acme, speaker, message)
    publish(acme, speaker, message)

    notify_subscribers_task(acme.pk, message.pk)
    assert notify_subscribers_task(acme.pk, message.pk) == 0

    assert len(mailoutbox) == 1


def test_the_task_ignores_a_message_that_is_not_published(acme, confirmed, responder, mailoutbox):
    message = draft(acme, responder)
    assert notify_subscribers_task(acme.pk, message.pk) == 0
    assert mailoutbox == []


def test_unsubscribing_forgets_the_address_and_stops_the_mail(
    client, acme, confirmed, responder, speaker, mailoutbox
):
    message = draft(acme, responder)
    approve(acme, speaker, message)
    publish(acme, speaker, message)
    notify_subscribers_task(acme.pk, message.pk)
    url = link(mailoutbox[-1], "unsubscribe")

    assert b"Unsubscribe" in client.get(url).content
    response = client.post(url)

    assert b"You are unsubscribed" in response.content
    assert subscribers() == []
    later = draft(acme, responder, title="Card payments: resolved", body="Fixed.")
    approve(acme, speaker, later)
    publish(acme, speaker, later)
    assert notify_subscribers_task(acme.pk, later.pk) == 0
    assert client.post(url).status_code == 400  # the link died with the subscription


def test_subscriber_addresses_stay_out_of_the_audit_trail(confirmed):
    from tenancy.models import AuditEntry

    with scopes_disabled():
        entries = AuditEntry.objects.filter(content_type__model="subscriber")
        assert entries.exists()
        assert all("carol@example.com" not in str(entry.changes) for entry in entries)
