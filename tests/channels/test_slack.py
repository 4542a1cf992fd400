"""The Slack provider against a fake Slack on 127.0.0.1: create, invite, post; failures are
recorded and retried with backoff; a taken name gets a suffix; the token stays secret."""

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import signals
from incidents.channels import services
from incidents.channels.models import IncidentChannel
from incidents.channels.slack import channel_name
from incidents.models import Incident
from tenancy.models import AuditEntry
from tests.channels.conftest import TOKEN, configure
from tests.channels.helpers import channels, declared, outbound, raise_severity

pytestmark = pytest.mark.django_db


def slack_of(incident) -> IncidentChannel:
    return channels(incident)["slack"]


def pending_slack(capture, org, actor, now):
    """A SEV-1 whose Slack channel is recorded (at `now`) but not attempted yet: its task is
    left in the queue, so the test runs each attempt itself with a controlled clock."""
    configure(org, slack_level=0)
    incident = declared(capture, org, actor, "SEV-1")
    configure(org, slack_level=2)
    with capture(execute=False):
        services.channels_open(incident=incident, now=now)
    assert slack_of(incident).status == "pending"
    return incident


def test_a_sev1_gets_a_slack_channel_with_invitees_and_an_opening_message(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")

    channel = slack_of(incident)
    assert channel.status == IncidentChannel.Status.READY
    assert channel.name == f"#inc-{incident.key.lower()}"
    assert channel.external_id == "C100"
    assert channel.url == "https://app.slack.com/client/T0ACME/C100"
    assert channel.invited_at is not None
    assert fake_slack.methods() == [
        "conversations.create",
        "conversations.invite",
        "chat.postMessage",
    ]
    create, invite, post = fake_slack.calls
    assert create["body"] == {"name": f"inc-{incident.key.lower()}", "is_private": False}
    assert invite["body"] == {"channel": "C100", "users": "U0AAA1,U0BBB2"}
    assert post["body"]["channel"] == "C100"
    assert incident.key in post["body"]["text"]
    assert incident.title in post["body"]["text"]
    assert all(call["headers"]["Authorization"] == f"Bearer {TOKEN}" for call in fake_slack.calls)
    assert [m.status for m in outbound(incident)] == ["sent"]


def test_a_sev3_gets_no_slack_channel(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-3")
    assert set(channels(incident)) == {"war_room"}
    assert fake_slack.calls == []


def test_a_restricted_sev1_gets_no_slack_channel(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    incident = declared(
        django_capture_on_commit_callbacks, acme, responder, "SEV-1", is_restricted=True
    )
    assert set(channels(incident)) == {"war_room"}
    assert fake_slack.calls == []


def test_raising_an_incident_to_sev1_creates_its_slack_channel_then(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-3")
    assert "slack" not in channels(incident)

    raise_severity(django_capture_on_commit_callbacks, incident, responder, "SEV-1")

    assert slack_of(incident).status == "ready"
    assert fake_slack.methods()[0] == "conversations.create"


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [(200, "fatal_error", "fatal_error"), (500, "oops", "http_500")],
)
def test_a_failed_create_is_recorded_then_retried_after_its_backoff(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks, status, error, shown
):
    fake_slack.fail_next("conversations.create", status=status, error=error)
    t0 = timezone.now() - timedelta(minutes=10)
    incident = pending_slack(django_capture_on_commit_callbacks, acme, responder, t0)

    services.channel_attempt(channel=slack_of(incident), now=t0)

    channel = slack_of(incident)
    assert channel.status == IncidentChannel.Status.FAILED
    assert channel.attempts == 1
    assert shown in channel.last_error
    assert channel.next_attempt_at == t0 + timedelta(seconds=30)
    assert Incident.objects.with_scopes_disabled().filter(pk=incident.pk).exists()

    assert services.channel_attempt(channel=channel, now=t0 + timedelta(seconds=10)) is None
    assert services.sweep_channels(now=t0 + timedelta(seconds=10)) == {"channels": 0, "messages": 0}
    assert fake_slack.methods() == ["conversations.create"]

    with django_capture_on_commit_callbacks(execute=True):
        swept = services.sweep_channels()  # now: the backoff is long over

    assert swept["channels"] == 1
    channel = slack_of(incident)
    assert channel.status == "ready"
    assert channel.attempts == 2
    assert channel.last_error == ""
    assert channel.next_attempt_at is None
    assert fake_slack.methods()[:3] == [
        "conversations.create",
        "conversations.create",
        "conversations.invite",
    ]


def test_a_failed_invite_is_retried_without_creating_a_second_channel(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("conversations.invite", error="internal_error")
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-2")
    channel = slack_of(incident)
    assert channel.status == "failed"
    assert channel.external_id == "C100"
    assert "Inviting people failed" in channel.last_error

    services.channel_attempt(channel=channel, force=True)

    assert slack_of(incident).status == "ready"
    assert fake_slack.methods().count("conversations.create") == 1
    assert fake_slack.methods().count("conversations.invite") == 2


def test_a_taken_name_gets_a_suffix(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        next_key = f"{acme.key_prefix}-1".lower()
    fake_slack.taken.update({f"inc-{next_key}", f"inc-{next_key}-2"})

    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")

    channel = slack_of(incident)
    assert channel.status == "ready"
    assert channel.name == f"#inc-{incident.key.lower()}-3"
    names = [c["body"]["name"] for c in fake_slack.calls if c["method"] == "conversations.create"]
    assert names == [f"inc-{next_key}", f"inc-{next_key}-2", f"inc-{next_key}-3"]


def test_an_invalid_token_gives_up_at_once_and_retry_now_tries_again(
    acme, responder, slack_on, fake_slack, login, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("conversations.create", error="invalid_auth")
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    channel = slack_of(incident)
    assert channel.status == "failed"
    assert channel.next_attempt_at is None  # retrying cannot help until someone acts
    assert services.sweep_channels() == {"channels": 0, "messages": 0}

    url = reverse(
        "incident_channels:channel_retry",
        kwargs={"org_slug": "acme", "key": incident.key, "pk": channel.pk},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = login(responder).post(url)

    assert response.status_code == 302
    assert slack_of(incident).status == "ready"


def test_a_viewer_may_not_press_retry_now(
    acme, responder, viewer, slack_on, fake_slack, login, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("conversations.create", error="invalid_auth")
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    channel = slack_of(incident)
    url = reverse(
        "incident_channels:channel_retry",
        kwargs={"org_slug": "acme", "key": incident.key, "pk": channel.pk},
    )
    assert login(viewer).post(url).status_code == 403
    assert slack_of(incident).attempts == 1
    assert fake_slack.methods() == ["conversations.create"]


def test_slacks_rate_limit_wait_is_respected(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    fake_slack.fail_next(
        "conversations.create", status=429, error="ratelimited", headers={"Retry-After": "600"}
    )
    t0 = timezone.now()
    incident = pending_slack(django_capture_on_commit_callbacks, acme, responder, t0)
    services.channel_attempt(channel=slack_of(incident), now=t0)
    channel = slack_of(incident)
    assert "ratelimited" in channel.last_error
    assert channel.next_attempt_at == t0 + timedelta(seconds=600)


def test_after_max_attempts_vigil_gives_up(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    for _ in range(services.MAX_ATTEMPTS):
        fake_slack.fail_next("conversations.create", status=503)
    incident = pending_slack(django_capture_on_commit_callbacks, acme, responder, timezone.now())
    for _ in range(services.MAX_ATTEMPTS):
        services.channel_attempt(channel=slack_of(incident), force=True)
    channel = slack_of(incident)
    assert channel.attempts == services.MAX_ATTEMPTS
    assert channel.status == "failed"
    assert channel.next_attempt_at is None
    assert channel.is_given_up


def test_a_broadcast_is_posted_to_the_slack_channel(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    with django_capture_on_commit_callbacks(execute=True):
        signals.incident_broadcast.send(
            sender=Incident,
            organization_id=acme.pk,
            incident_id=incident.pk,
            text="Mitigated by failing over to Frankfurt.",
            kind="status_update",
            actor_id=responder.pk,
        )
    post = fake_slack.calls[-1]
    assert post["method"] == "chat.postMessage"
    assert post["body"] == {
        "channel": "C100",
        "text": "Status update: Mitigated by failing over to Frankfurt.",
    }
    assert [m.status for m in outbound(incident)] == ["sent", "sent"]


def test_a_failed_post_is_retried_and_a_broadcast_waits_for_a_channel_being_created(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("conversations.create", status=500)
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    assert slack_of(incident).status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast(
            organization_id=acme.pk, incident_id=incident.pk, text="Still down", kind="decision"
        )
    waiting = outbound(incident)
    assert [(m.status, m.next_attempt_at) for m in waiting] == [("pending", None)]

    fake_slack.fail_next("chat.postMessage", error="internal_error")  # the opening message
    with django_capture_on_commit_callbacks(execute=True):
        services.channel_attempt(channel=slack_of(incident), force=True)

    messages = {m.kind: m for m in outbound(incident)}
    assert messages["decision"].status == "sent"
    assert messages["opening"].status == "pending"
    assert messages["opening"].attempts == 1
    assert "internal_error" in messages["opening"].last_error
    later = messages["opening"].next_attempt_at + timedelta(seconds=1)
    services.outbound_attempt(message=messages["opening"], now=later)
    assert {m.kind: m.status for m in outbound(incident)} == {"decision": "sent", "opening": "sent"}


def test_the_token_is_never_in_logs_audit_entries_or_pages(
    acme, responder, admin, slack_on, fake_slack, login, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    fake_slack.fail_next("conversations.create", status=500)
    fake_slack.fail_next("conversations.create", error="invalid_auth")
    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    services.channel_attempt(channel=slack_of(incident), force=True)
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("channel_settings:settings", kwargs={"org_slug": "acme"}),
            {
                "war_room_level": 9,
                "slack_level": 2,
                "slack_token": "xoxb-9999-new-secret-token",
                "slack_base_url": fake_slack.base_url,
                "slack_channel_prefix": "inc-",
                "bridge_level": 0,
            },
        )
    page = client.get(reverse("channel_settings:settings", kwargs={"org_slug": "acme"}))
    detail_channel = slack_of(incident)

    assert "channel" in caplog.text
    assert "failed" in caplog.text
    for secret in (TOKEN, "xoxb-9999-new-secret-token", "secret"):
        assert secret not in caplog.text
        assert secret not in page.content.decode()
        assert secret not in detail_channel.last_error
        with scopes_disabled():
            for entry in AuditEntry.objects.all():
                assert secret not in str(entry.changes), entry
                assert secret not in str(entry.additional_data)
    with scopes_disabled():
        assert AuditEntry.objects.filter(object_repr="Channel settings").exists()


def test_channel_names_follow_slacks_rules():
    assert channel_name("inc-", "ACME-42") == "inc-acme-42"
    assert channel_name("", "ÄCME 42.x") == "cme-42-x"
    long = channel_name("inc-", "A" * 100)
    assert len(long) == 80
    assert len(channel_name("inc-", "A" * 100, "-12")) == 80
    assert channel_name("inc-", "A" * 100, "-12").endswith("-12")


def test_an_incident_restricted_after_its_slack_channel_opened_sends_slack_nothing_more(
    acme, responder, admin, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    from incidents import services as incident_services
    from tenancy.scoping import org_scope

    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    calls_before = len(fake_slack.calls)
    with org_scope(acme), django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_set_restricted(
            incident=incident, actor=admin, is_restricted=True
        )
    with django_capture_on_commit_callbacks(execute=True):
        signals.incident_broadcast.send(
            sender=Incident,
            organization_id=acme.pk,
            incident_id=incident.pk,
            text="SECRET-CUSTOMER-X affected",
            kind="status_update",
            actor_id=responder.pk,
        )
    assert len(fake_slack.calls) == calls_before
    assert not any("SECRET-CUSTOMER-X" in str(call["body"]) for call in fake_slack.calls)


def test_moving_the_slack_base_url_needs_the_token_again(acme, admin, slack_on, fake_slack):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="token again"):
        services.settings_save(
            organization=acme, actor=admin, slack_base_url="https://collector.example/api/"
        )
    with scopes_disabled():
        assert services.settings_get(organization=acme).slack_base_url == fake_slack.base_url
    saved = services.settings_save(
        organization=acme,
        actor=admin,
        slack_base_url="https://collector.example/api/",
        slack_token="xoxb-2222-3333-anothersecret",
    )
    assert saved.slack_base_url == "https://collector.example/api/"


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_does_not_wait_for_a_channel_attempt_in_progress(
    acme, responder, slack_on, fake_slack, django_capture_on_commit_callbacks
):
    """channel_attempt holds its row while Slack answers (seconds, when Slack is slow); a
    status update's broadcast must not queue behind it. Deterministic: the attempt's lock is
    held by another connection, and the broadcast runs with a 2 s lock timeout."""
    import threading

    from django.db import connection, transaction

    incident = declared(django_capture_on_commit_callbacks, acme, responder, "SEV-1")
    slack = slack_of(incident)
    held, release = threading.Event(), threading.Event()

    def attempt_in_progress():
        try:
            with transaction.atomic():
                with scopes_disabled():
                    list(IncidentChannel.objects.select_for_update(no_key=True).filter(pk=slack.pk))
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=attempt_in_progress)
    thread.start()
    try:
        assert held.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        result = services.broadcast(
            organization_id=acme.pk, incident_id=incident.pk, text="Still investigating."
        )
        assert result["queued"] == 1
    finally:
        release.set()
        thread.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
