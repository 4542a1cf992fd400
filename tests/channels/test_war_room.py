"""The built-in war room: opened on declaration, carries broadcasts, takes messages from
people who may comment, polls for what is new, and follows the incident's visibility."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django_scopes import scopes_disabled
from guardian.shortcuts import assign_perm

from incidents import signals
from incidents.channels import services
from incidents.channels.models import IncidentChannel, WarRoomMessage
from incidents.models import Incident
from tests.channels.conftest import configure
from tests.channels.helpers import channels, declared, war_room_texts

pytestmark = pytest.mark.django_db


def war_room_url(incident, name="war_room"):
    return reverse(f"incident_channels:{name}", kwargs={"org_slug": "acme", "key": incident.key})


def test_declaring_an_incident_opens_its_war_room_with_a_first_system_message(
    acme, responder, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)

    war_room = channels(incident)["war_room"]
    assert war_room.status == IncidentChannel.Status.READY
    with scopes_disabled():
        first = WarRoomMessage.objects.get(incident=incident)
    assert first.author is None
    assert first.kind == WarRoomMessage.Kind.SYSTEM
    assert first.text.startswith(f"War room opened for {incident.key} · SEV-3")


def test_no_war_room_when_the_settings_turn_it_off(
    acme, responder, django_capture_on_commit_callbacks
):
    configure(acme, war_room_level=0)
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    assert channels(incident) == {}
    assert war_room_texts(incident) == []


def test_war_room_only_for_severities_the_settings_name(
    acme, responder, django_capture_on_commit_callbacks
):
    configure(acme, war_room_level=2)
    minor = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-3")
    major = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-2")
    assert "war_room" not in channels(minor)
    assert channels(major)["war_room"].status == "ready"


def test_a_broadcast_lands_in_the_war_room_with_its_kind(
    acme, responder, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)

    signals.incident_broadcast.send(
        sender=Incident,
        organization_id=acme.pk,
        incident_id=incident.pk,
        text="Impact: card payments fail for 20% of customers. Next update 10:15.",
        kind="status_update",
        actor_id=responder.pk,
    )

    with scopes_disabled():
        last = WarRoomMessage.objects.filter(incident=incident).order_by("pk").last()
    assert last.kind == "status_update"
    assert last.author is None
    assert last.text.startswith("Impact: card payments fail")


def test_a_broadcast_to_an_incident_without_a_war_room_records_nothing(
    acme, responder, django_capture_on_commit_callbacks
):
    configure(acme, war_room_level=0)
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    result = services.broadcast(
        organization_id=acme.pk, incident_id=incident.pk, text="Update", kind="status_update"
    )
    assert result == {"war_room": 0, "queued": 0}
    assert war_room_texts(incident) == []


def test_a_failing_receiver_never_reaches_the_caller(
    acme, responder, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "broadcast", broken)
    incident = declared(django_capture_on_commit_callbacks, acme, responder)

    signals.incident_broadcast.send(
        sender=Incident, organization_id=acme.pk, incident_id=incident.pk, text="x", kind="x"
    )
    assert "broadcasting to the channels" in caplog.text


def test_posting_in_the_war_room_page_adds_a_message_and_shows_it(
    acme, responder, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    client = login(responder)

    response = client.post(war_room_url(incident, "war_room_post"), {"text": "  Rolling back  "})

    assert response.status_code == 302
    with scopes_disabled():
        message = WarRoomMessage.objects.filter(incident=incident).order_by("pk").last()
    assert (message.author, message.text, message.kind) == (responder, "Rolling back", "message")
    page = client.get(war_room_url(incident))
    assert page.status_code == 200
    content = page.content.decode()
    assert content.count("Rolling back") == 1  # each message once, however it is rendered
    assert content.count("War room opened") == 1
    assert content.index("War room opened") < content.index("Rolling back")  # newest last
    assert f"?after={message.pk}" in content  # the poller asks for what comes next


def test_an_htmx_post_answers_with_a_fresh_form_and_tells_the_stream(
    acme, responder, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    response = login(responder).post(
        war_room_url(incident, "war_room_post"), {"text": "Looking"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "war-room-changed" in response["HX-Trigger"]
    assert 'id="war-room-form"' in response.content.decode()
    assert "Looking" not in response.content.decode()


def test_an_empty_or_oversized_message_is_refused_and_kept_in_the_form(
    acme, responder, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    client = login(responder)
    before = war_room_texts(incident)

    empty = client.post(war_room_url(incident, "war_room_post"), {"text": "   "})
    huge = client.post(
        war_room_url(incident, "war_room_post"), {"text": "x" * 4001}, HTTP_HX_REQUEST="true"
    )

    assert empty.status_code == 200
    assert "Write something first." in empty.content.decode()
    assert huge.status_code == 200
    assert "at most 4000 characters" in huge.content.decode()
    assert "x" * 4001 in huge.content.decode()  # the input is not lost
    assert war_room_texts(incident) == before


def test_polling_returns_only_messages_after_the_last_seen_one(
    acme, responder, other_responder, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    first = services.war_room_post(incident=incident, actor=responder, text="first")
    services.war_room_post(incident=incident, actor=other_responder, text="second")
    client = login(responder)

    response = client.get(war_room_url(incident, "war_room_messages"), {"after": first.pk})

    content = response.content.decode()
    assert response.status_code == 200
    assert "second" in content
    assert "Oscar" in content
    assert "first" not in content
    assert "War room opened" not in content
    with scopes_disabled():
        newest = WarRoomMessage.objects.filter(incident=incident).order_by("pk").last()
    assert f"after={newest.pk}" in content
    nothing_new = client.get(war_room_url(incident, "war_room_messages"), {"after": newest.pk})
    assert 'class="wr-msg' not in nothing_new.content.decode()
    assert f"after={newest.pk}" in nothing_new.content.decode()
    assert (
        client.get(war_room_url(incident, "war_room_messages"), {"after": "x"}).status_code == 400
    )


def test_long_war_rooms_show_the_newest_page_and_link_to_earlier_ones(
    acme, responder, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    with scopes_disabled():
        WarRoomMessage.objects.bulk_create(
            WarRoomMessage(organization=acme, incident=incident, author=responder, text=f"m{n:03}")
            for n in range(150)
        )
    client = login(responder)

    page = client.get(war_room_url(incident)).content.decode()
    assert "m149" in page
    assert "m050" in page
    assert "m049" not in page
    assert "Earlier messages" in page
    with scopes_disabled():
        oldest_shown = WarRoomMessage.objects.get(incident=incident, text="m050")
    older = client.get(war_room_url(incident), {"before": oldest_shown.pk}).content.decode()
    assert "m049" in older
    assert "War room opened" in older
    assert "m050" not in older
    assert "Back to the live stream" in older


def test_a_viewer_reads_the_war_room_but_may_not_post(
    acme, responder, viewer, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    client = login(viewer)
    before = war_room_texts(incident)

    page = client.get(war_room_url(incident))
    refused = client.post(war_room_url(incident, "war_room_post"), {"text": "hello"})

    assert page.status_code == 200
    assert "can read the war room but not write" in page.content.decode()
    assert refused.status_code == 403
    assert war_room_texts(incident) == before
    with pytest.raises(PermissionDenied):
        services.war_room_post(incident=incident, actor=viewer, text="hello")


def test_a_restricted_incidents_war_room_is_hidden_from_people_without_access(
    acme, responder, other_responder, admin, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, is_restricted=True)
    services.war_room_post(incident=incident, actor=responder, text="Attacker IP 203.0.113.9")
    client = login(other_responder)

    for name in ("war_room", "war_room_messages"):
        response = client.get(war_room_url(incident, name))
        assert response.status_code == 404
        assert b"203.0.113.9" not in response.content
    assert client.post(war_room_url(incident, "war_room_post"), {"text": "x"}).status_code == 404
    with pytest.raises(PermissionDenied):
        services.war_room_post(incident=incident, actor=other_responder, text="x")

    with scopes_disabled():
        assign_perm("view_incident", other_responder, Incident.objects.get(pk=incident.pk))
    # Granted, they read the message — with the IP address masked (compliance.masking).
    assert b"Attacker IP [IP address hidden]" in client.get(war_room_url(incident)).content
    client.logout()
    assert b"Attacker IP [IP address hidden]" in login(admin).get(war_room_url(incident)).content


def test_another_organisations_member_gets_404_on_every_channel_page(
    acme, responder, stranger, login, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder)
    war_room = channels(incident)["war_room"]
    client = login(stranger)
    urls = [
        war_room_url(incident),
        war_room_url(incident, "war_room_messages"),
        war_room_url(incident, "war_room_post"),
        war_room_url(incident, "channels_open"),
        reverse(
            "incident_channels:channel_retry",
            kwargs={"org_slug": "acme", "key": incident.key, "pk": war_room.pk},
        ),
        reverse("channel_settings:settings", kwargs={"org_slug": "acme"}),
        reverse("channel_settings:slack_test", kwargs={"org_slug": "acme"}),
    ]
    for url in urls:
        for method in (client.get, client.post):
            response = method(url, {"text": "x"})
            assert response.status_code == 404, url
            assert b"Acme" not in response.content
    assert len(war_room_texts(incident)) == 1


def test_channel_services_refuse_people_without_access_to_a_restricted_incident(
    acme, responder, other_responder, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, is_restricted=True)
    war_room = channels(incident)["war_room"]
    with pytest.raises(PermissionDenied):
        services.channels_open(incident=incident, actor=other_responder)
    with pytest.raises(PermissionDenied):
        services.channel_retry(channel=war_room, actor=other_responder)


def test_a_failure_while_opening_channels_never_blocks_the_declaration(
    acme, responder, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "channels_open", broken)

    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")

    assert Incident.objects.with_scopes_disabled().filter(pk=incident.pk).exists()
    assert "opening channels for incident" in caplog.text
    assert channels(incident) == {}


def test_a_provider_that_breaks_is_recorded_as_failed_and_retried(
    acme, responder, django_capture_on_commit_callbacks, monkeypatch
):
    from incidents.channels import providers

    def broken(channel):
        raise RuntimeError("disk full")

    monkeypatch.setattr(providers.REGISTRY["war_room"], "create", broken)
    incident = declared(django_capture_on_commit_callbacks, acme, responder)

    war_room = channels(incident)["war_room"]
    assert war_room.status == "failed"
    assert war_room.last_error == "disk full"
    assert war_room.next_attempt_at is not None
    monkeypatch.undo()
    services.channel_attempt(channel=war_room, force=True)
    assert channels(incident)["war_room"].status == "ready"
    assert war_room_texts(incident)[0].startswith("War room opened")
