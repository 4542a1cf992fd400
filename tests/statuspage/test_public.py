"""The public status page and its Atom feed: off means 404, only published messages show,
and nothing internal — incident keys, titles, descriptions, labels, custom fields, people,
restricted incidents, subscriber addresses — ever appears."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import services as incident_services
from incidents.models import TimelineEvent
from incidents.statuspage.models import ComponentState, ExternalMessage, StatusPageSettings
from taxonomy.models import CustomFieldDefinition
from tenancy.scoping import org_scope
from tests.incidents.factories import declare
from tests.statuspage.conftest import approve, draft, fresh, publish

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"

PII = [
    "jane.doe@customer.example",  # an e-mail address
    "Jane Doe",  # a person's name
    "+49 30 1234 5678",  # a phone number
    "Hauptstrasse 7",  # an address
]


def test_the_page_and_feed_are_404_until_switched_on(client, acme):
    assert client.get("/status/acme/").status_code == 404
    assert client.get("/status/acme/feed.atom").status_code == 404
    StatusPageSettings.objects.create(organization=acme, is_public=False, title="Acme")
    assert client.get("/status/acme/").status_code == 404

    with scopes_disabled():
        StatusPageSettings.objects.filter(organization=acme).update(is_public=True)

    assert client.get("/status/acme/").status_code == 200
    assert client.get("/status/acme/feed.atom").status_code == 200


def test_an_unknown_organisation_is_404(client, page_on):
    assert client.get("/status/no-such-org/").status_code == 404
    assert client.get("/status/no-such-org/feed.atom").status_code == 404


def test_the_page_needs_no_login_and_shows_components_and_the_overall_state(
    client, page_on, published, dashboard
):
    response = client.get("/status/acme/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "Acme status" in text
    assert "Partial outage" in text  # the banner and the component
    assert "Card payments" in text
    assert "Dashboard" in text
    assert "Card payments: we are investigating" in text
    assert "<link" not in text.replace('<link rel="alternate"', "")  # no external stylesheet
    assert "<script" not in text


def test_only_published_messages_show(client, acme, page_on, published, responder, speaker):
    draft(acme, responder, title="A draft nobody approved", body="Draft body.")
    approved = draft(acme, responder, title="Approved but not published", body="Waiting.")
    approve(acme, speaker, approved)

    page = client.get("/status/acme/").content.decode()
    feed = client.get("/status/acme/feed.atom").content.decode()

    for text in (page, feed):
        assert "Card payments: we are investigating" in text
        assert "A draft nobody approved" not in text
        assert "Approved but not published" not in text


def test_messages_are_newest_first_and_paginated(client, acme, page_on, responder, speaker):
    base = timezone.now() - timedelta(days=1)
    for n in range(12):
        message = draft(acme, responder, title=f"Update number {n:02d}", body="Body.")
        approve(acme, speaker, message)
        publish(acme, speaker, message, now=base + timedelta(minutes=n))

    first = client.get("/status/acme/").content.decode()
    second = client.get("/status/acme/?page=2").content.decode()

    assert first.index("Update number 11") < first.index("Update number 10")
    assert "Update number 02" in first
    assert "Update number 01" not in first
    assert "Update number 01" in second
    assert "Update number 00" in second
    assert "Older updates" in first


def test_the_feed_is_valid_atom_with_one_entry_per_published_message(client, page_on, published):
    response = client.get("/status/acme/feed.atom")

    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314 — our own response
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}title").text == "Acme status"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.find(f"{ATOM}title").text == "Investigating: Card payments: we are investigating"
    assert entry.find(f"{ATOM}id").text.endswith(f"#message-{published.pk}")
    assert entry.find(f"{ATOM}updated").text
    assert "Card payments: Partial outage" in entry.find(f"{ATOM}summary").text


def test_nothing_internal_reaches_the_public_page_or_the_feed(
    client,
    acme,
    admin,
    responder,
    speaker,
    payments,
    page_on,
    queued,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    """A restricted incident full of personal data, a published message about it, and a
    subscriber: the public page and the feed carry the message's words and nothing else."""
    CustomFieldDefinition.objects.create(
        organization=acme, key="customer_contact", label="Customer contact", field_type="text"
    )
    secret = declare(
        acme,
        admin,
        title=f"Breach: {PII[1]} account {PII[0]} exposed",
        description=f"Call {PII[1]} at {PII[2]}, {PII[3]}. Attacker used admin creds.",
        is_restricted=True,
        labels={"customer": PII[0], "phone": PII[2]},
        custom_fields={"customer_contact": f"{PII[1]} {PII[2]}"},
    )
    with scopes_disabled():
        TimelineEvent.objects.create(
            organization=acme,
            incident=secret,
            kind=TimelineEvent.Kind.COMMENT,
            actor=admin,
            message=f"Spoke to {PII[1]} ({PII[0]})",
        )
    with org_scope(acme):  # the spokesperson may see the restricted incident
        incident_services.incident_grant_access(incident=secret, actor=admin, user=speaker)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/status/acme/subscribe/", {"email": "subscriber.person@example.org"})
    message = draft(
        acme,
        admin,
        incident=secret,
        title="Card payments: we are investigating",
        body="Some customers cannot sign in. We are investigating.",
        affected={payments: ComponentState.DEGRADED},
    )
    approve(acme, speaker, message)
    publish(acme, speaker, message)

    page = client.get("/status/acme/").content.decode()
    feed_response = client.get("/status/acme/feed.atom")
    feed = feed_response.content.decode()
    ET.fromstring(feed_response.content)  # noqa: S314 — still well-formed XML

    for text in (page, feed):
        assert "Some customers cannot sign in" in text  # the message is there …
        for secret_text in [
            *PII,
            secret.key,
            "Breach",
            "Attacker used admin creds",
            "Spoke to",
            "subscriber.person@example.org",
            admin.email,
            admin.display_name,
            responder.email,
            "Rita",
            speaker.email,
            "Sam Speaker",
            acme.key_prefix + "-",
            "restricted",
        ]:
            assert secret_text not in text, secret_text  # … and nothing else


def test_a_message_whose_incident_is_gone_still_shows(client, page_on, published):
    with scopes_disabled():
        ExternalMessage.objects.filter(pk=published.pk).update(incident=None)
    assert "Card payments: we are investigating" in client.get("/status/acme/").content.decode()


def test_the_page_is_printable_and_has_the_feed_link(client, page_on):
    text = client.get("/status/acme/").content.decode()
    assert "@media print" in text
    assert 'type="application/atom+xml"' in text
    assert "No updates have been posted" in text  # the empty state


def test_control_characters_and_markup_cannot_break_or_inject_into_the_feed(
    client, acme, page_on, responder, speaker, payments, queued
):
    """Text pasted from a word processor carries control characters XML 1.0 cannot hold; the
    Atom summary is HTML, so the plain text must reach it escaped."""
    message = draft(
        acme,
        responder,
        affected={payments: ComponentState.DEGRADED},
        title="Card\x0b payments\nslow",
        body="Fix\x0c deployed <img src=x onerror=alert(1)> & monitoring",
    )
    assert fresh(message).title == "Card payments slow"
    approve(acme, speaker, message)
    publish(acme, speaker, message)
    response = client.get("/status/acme/feed.atom")
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 — our own output; parses: no control chars
    summary = root.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}summary")
    assert "<img" not in summary.text
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; monitoring" in summary.text
