"""The notification service: one inbox entry per person, e-mail and chat as preferences and
quiet hours say, idempotent by key, queued on commit, sent once, retried with backoff, and
swept up when a message is lost — without ever touching the incident that caused it."""

import datetime
import json
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import notify, tasks
from incidents.lifecycle import Status
from incidents.models import (
    ChatWebhook,
    Delivery,
    Notification,
    NotificationPreference,
    TimelineEvent,
)
from tests.incidents.factories import declare, fresh, severity, transition

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


# — a stand-in for Slack ——————————————————————————————————————————————————————————————


class ChatServer:
    """A local incoming-webhook endpoint that records each POST and answers `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body or b"null"),
                    }
                )
                answer = b"ok" if server.status < 300 else b"internal_error"
                self.send_response(server.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/services/T0/B0/secret"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat():
    server = ChatServer()
    yield server
    server.close()


@pytest.fixture
def webhook(acme, chat):
    with scopes_disabled():
        return ChatWebhook.objects.create(
            organization=acme, name="#incidents", url=chat.url, min_severity_level=4
        )


@pytest.fixture
def queued(monkeypatch):
    """Every deliver_task.delay(org_id, delivery_id), recorded instead of sent to Redis."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.deliver_task, "delay", lambda *args: calls.append(args))
    return calls


def deliveries(lifecycle: bool = False, **filters) -> list[Delivery]:
    """Deliveries the test made; `lifecycle=True` adds the chat messages the incident services
    post by themselves on declaration and status changes (keys `chat:…`)."""
    with scopes_disabled():
        rows = Delivery.objects.filter(**filters).order_by("pk")
        if not lifecycle:
            rows = rows.exclude(idempotency_key__startswith="chat:")
        return list(rows)


def notifications(**filters) -> list[Notification]:
    with scopes_disabled():
        return list(Notification.objects.filter(**filters).order_by("pk"))


def prefer(org, user, **fields) -> NotificationPreference:
    with scopes_disabled():
        return NotificationPreference.objects.create(organization=org, user=user, **fields)


def send(delivery: Delivery, **kwargs):
    return notify.deliver(delivery=delivery, **kwargs)


def tell(org, users, key="k1", **kwargs):
    kwargs.setdefault("kind", "escalation")
    kwargs.setdefault("title", "Checkout fails: you are on call")
    return notify.notify_users(organization=org, users=users, key=key, **kwargs)


# — recording and idempotency ——————————————————————————————————————————————————————————


def test_notify_records_inbox_email_and_chat_and_queues_them_on_commit(
    acme, incident, responder, webhook, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = tell(acme, [responder], incident=incident, body="Please acknowledge.")
        assert queued == [], "nothing is queued before the transaction commits"
    assert result == [{"user": responder.pk, "channels": ["inbox", "email", "chat"]}]
    [notification] = notifications(recipient=responder)
    assert notification.idempotency_key == f"k1:{responder.pk}"
    assert notification.incident_id == incident.pk
    assert notification.severity_level == 3
    assert notification.url == f"/o/acme/incidents/{incident.key}/"
    assert notification.read_at is None
    email, chat_message = deliveries()
    assert (email.channel, email.target, email.notification_id) == (
        "email",
        responder.email,
        notification.pk,
    )
    assert (chat_message.channel, chat_message.target) == ("chat", webhook.url)
    assert chat_message.payload["_notified"] == [responder.pk]
    assert sorted(queued) == [(acme.pk, email.pk), (acme.pk, chat_message.pk)]


def test_notifying_twice_with_the_same_key_records_and_queues_nothing_new(
    acme, incident, responder, other_responder, webhook, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = tell(acme, [responder, other_responder], incident=incident)
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        second = tell(acme, [responder, other_responder], incident=incident)
    assert second == first
    assert len(notifications()) == 2
    assert len(deliveries()) == 3  # two e-mails, one chat message naming both
    assert len(queued) == 3
    assert second_callbacks == []


def test_one_chat_message_names_everyone_with_chat_on(
    acme, incident, responder, other_responder, webhook, queued
):
    prefer(acme, other_responder, chat=False)
    result = tell(acme, [responder, other_responder], incident=incident)
    assert result == [
        {"user": responder.pk, "channels": ["inbox", "email", "chat"]},
        {"user": other_responder.pk, "channels": ["inbox", "email"]},
    ]
    [chat_message] = deliveries(channel="chat")
    assert chat_message.payload["_notified"] == [responder.pk]
    assert "Notifying: Rita" in json.dumps(chat_message.payload["blocks"])


def test_people_outside_the_organisation_are_skipped(acme, incident, responder, stranger, queued):
    result = tell(acme, [responder, stranger], incident=incident)
    assert [row["user"] for row in result] == [responder.pk]
    assert notifications(recipient=stranger) == []


def test_an_incident_of_another_organisation_is_refused(acme, globex, globex_admin, responder):
    foreign = declare(globex, globex_admin.user, title="Grid down")
    with pytest.raises(ValidationError):
        tell(acme, [responder], incident=foreign)
    assert notifications() == []


def test_email_off_keeps_the_inbox_only(acme, incident, responder, queued):
    prefer(acme, responder, email=False, chat=False)
    assert tell(acme, [responder], incident=incident) == [
        {"user": responder.pk, "channels": ["inbox"]}
    ]
    assert deliveries() == []


def test_no_chat_webhook_means_no_chat_channel(acme, incident, responder, queued):
    assert tell(acme, [responder], incident=incident)[0]["channels"] == ["inbox", "email"]


def test_a_restricted_incident_is_named_by_key_only_to_those_who_may_not_see_it(
    acme, responder, admin, webhook, queued
):
    secret = declare(acme, admin, title="Vault breach", is_restricted=True)
    tell(acme, [responder, admin], incident=secret, title="Vault breach: respond")
    by_user = {n.recipient_id: n for n in notifications()}
    assert by_user[admin.pk].title == "Vault breach: respond"
    assert by_user[responder.pk].title == f"{secret.key} · restricted incident"
    assert "Vault" not in by_user[responder.pk].body
    [email] = deliveries(channel="email", target=responder.email)
    assert "Vault" not in json.dumps(email.payload)
    chat_messages = deliveries(channel="chat", lifecycle=True)  # the declaration's and this one
    assert len(chat_messages) == 2
    for message in chat_messages:
        assert "Vault" not in json.dumps(message.payload)


# — quiet hours ————————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize(
    ("local_time", "emailed"),
    [
        (datetime.time(21, 59), True),
        (datetime.time(22, 0), False),
        (datetime.time(23, 30), False),
        (datetime.time(0, 15), False),  # over midnight
        (datetime.time(6, 59), False),
        (datetime.time(7, 0), True),
        (datetime.time(12, 0), True),
    ],
)
def test_quiet_hours_over_midnight_hold_back_email_but_not_the_inbox(
    acme, incident, responder, queued, local_time, emailed
):
    prefer(
        acme,
        responder,
        quiet_start=datetime.time(22, 0),
        quiet_end=datetime.time(7, 0),
        timezone="Europe/Berlin",
    )
    now = datetime.datetime.combine(datetime.date(2026, 11, 27), local_time, tzinfo=BERLIN)
    result = tell(acme, [responder], incident=incident, now=now)
    assert result[0]["channels"] == (["inbox", "email"] if emailed else ["inbox"])
    assert len(notifications(recipient=responder)) == 1
    assert len(deliveries(channel="email")) == (1 if emailed else 0)


def test_sev1_breaks_through_quiet_hours(acme, responder, queued):
    major = declare(acme, responder, title="Everything is down", severity=severity(acme, "SEV-1"))
    prefer(acme, responder, quiet_start=datetime.time(22, 0), quiet_end=datetime.time(7, 0))
    night = datetime.datetime(2026, 11, 27, 23, 30, tzinfo=BERLIN)
    assert tell(acme, [responder], incident=major, now=night)[0]["channels"] == [
        "inbox",
        "email",
    ]
    sev3_night = tell(acme, [responder], key="k2", severity_level=3, now=night)
    assert sev3_night[0]["channels"] == ["inbox"]
    sev1_without_incident = tell(acme, [responder], key="k3", severity_level=1, now=night)
    assert sev1_without_incident[0]["channels"] == ["inbox", "email"]


def test_quiet_hours_count_in_the_preference_time_zone_else_the_orgs(
    acme, other_responder, responder, queued
):
    # 13:30 in Berlin is 07:30 in New York.
    noon_in_berlin = datetime.datetime(2026, 11, 27, 13, 30, tzinfo=BERLIN)
    lunch = {"quiet_start": datetime.time(13, 0), "quiet_end": datetime.time(14, 0)}
    prefer(acme, responder, **lunch)  # the org's zone: Europe/Berlin
    prefer(acme, other_responder, timezone="America/New_York", **lunch)
    result = tell(acme, [responder, other_responder], now=noon_in_berlin)
    assert result == [
        {"user": responder.pk, "channels": ["inbox"]},
        {"user": other_responder.pk, "channels": ["inbox", "email"]},
    ]


# — chat ———————————————————————————————————————————————————————————————————————————————


def test_post_to_chat_sends_a_slack_incoming_webhook_message(
    acme, responder, webhook, chat, queued, django_capture_on_commit_callbacks
):
    major = declare(acme, responder, title="Payments <down>", severity=severity(acme, "SEV-2"))
    with django_capture_on_commit_callbacks(execute=True):
        count = notify.post_to_chat(
            organization=acme, incident=major, text="Declared by Rita", key="declared"
        )
    assert count == 1
    [delivery] = deliveries()
    assert queued == [(acme.pk, delivery.pk)]
    assert send(delivery).status == Delivery.Status.SENT
    [request] = chat.requests
    assert request["path"] == "/services/T0/B0/secret"
    assert request["content_type"] == "application/json"
    message = request["json"]
    assert set(message) == {"text", "blocks"}
    assert message["text"] == "Declared by Rita"
    [section] = message["blocks"]
    assert section["type"] == "section"
    headline = section["text"]["text"]
    assert f"http://127.0.0.1:8000/o/acme/incidents/{major.key}/|{major.key}" in headline
    assert "Payments &lt;down&gt;" in headline
    assert "Declared by Rita" in headline
    assert {field["text"] for field in section["fields"]} == {
        "*Severity*\nSEV-2",
        "*Status*\nReported",
    }


def test_post_to_chat_is_idempotent_and_respects_each_webhooks_severity(
    acme, incident, chat, webhook, queued, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        ChatWebhook.objects.create(
            organization=acme, name="major only", url=chat.url, min_severity_level=2
        )
        ChatWebhook.objects.create(
            organization=acme, name="old", url=chat.url, min_severity_level=4, is_active=False
        )
    with django_capture_on_commit_callbacks(execute=True):
        first = notify.post_to_chat(organization=acme, incident=incident, text="New", key="new")
        again = notify.post_to_chat(organization=acme, incident=incident, text="New", key="new")
    assert first == again == 1  # SEV-3: only the webhook that takes every severity
    assert [d.target for d in deliveries()] == [webhook.url]
    assert len(queued) == 1


def test_a_restricted_incident_reaches_chat_without_its_title(acme, admin, webhook, queued):
    secret = declare(acme, admin, title="Vault breach", is_restricted=True)
    notify.post_to_chat(organization=acme, incident=secret, text="Vault breach!", key="x")
    [delivery] = deliveries()
    assert "Vault" not in json.dumps(delivery.payload)
    assert secret.key in delivery.payload["text"]


# — sending ——————————————————————————————————————————————————————————————————————————


def test_an_email_goes_out_with_the_incident_key_in_the_subject(
    acme, incident, responder, queued, mailoutbox
):
    tell(acme, [responder], incident=incident, title="You are on call", body="Acknowledge.")
    [delivery] = deliveries()
    sent = send(delivery)
    assert sent.status == Delivery.Status.SENT
    assert sent.sent_at is not None
    [mail] = mailoutbox
    assert mail.subject == f"{incident.key} · You are on call"
    assert mail.to == [responder.email]
    assert "Acknowledge." in mail.body
    assert f"http://127.0.0.1:8000/o/acme/incidents/{incident.key}/" in mail.body
    assert "/o/acme/notifications/preferences/" in mail.body


def test_delivering_twice_sends_once(acme, incident, chat, webhook, queued):
    notify.post_to_chat(organization=acme, incident=incident, text="Once", key="once")
    [delivery] = deliveries()
    assert send(delivery).status == Delivery.Status.SENT
    assert send(delivery) is None
    assert len(chat.requests) == 1


def test_the_task_delivers_in_its_own_scope_and_tolerates_repeats(
    acme, incident, responder, queued, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tell(acme, [responder], incident=incident)
    [(org_id, delivery_id)] = queued
    assert tasks.deliver_task(org_id, delivery_id) == "sent"
    assert tasks.deliver_task(org_id, delivery_id) == "not claimable"
    assert tasks.deliver_task(org_id, 999_999) == "missing"
    assert len(mailoutbox) == 1


def test_an_unreachable_webhook_is_recorded_not_raised(acme, incident, queued):
    with scopes_disabled():
        ChatWebhook.objects.create(
            organization=acme, name="gone", url="http://127.0.0.1:9/hook", min_severity_level=4
        )
    notify.post_to_chat(organization=acme, incident=incident, text="Hello", key="gone")
    [delivery] = deliveries()
    failed_once = send(delivery)
    assert failed_once.status == Delivery.Status.PENDING
    assert failed_once.attempts == 1
    assert "Could not reach the webhook" in failed_once.last_error


def test_backoff_doubles_from_30_seconds_and_stops_at_30_minutes():
    assert [notify.backoff(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]


def test_a_failing_webhook_is_retried_with_backoff_then_failed_without_touching_the_incident(
    acme, incident, responder, chat, webhook, queued, django_capture_on_commit_callbacks
):
    chat.status = 500
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        investigating = transition(incident, "start_investigation", responder)
        notify.post_to_chat(
            organization=acme, incident=investigating, text="Investigating", key="inv"
        )
    with scopes_disabled():  # the status message the transition posted is not this test's
        Delivery.objects.filter(idempotency_key__startswith="chat:").delete()
    before = fresh(incident)
    with scopes_disabled():
        timeline = TimelineEvent.objects.filter(incident=incident).count()
    [delivery] = deliveries()
    assert (acme.pk, delivery.pk) in queued

    now = timezone.now()
    waits = []
    for attempt in range(1, 7):
        result = send(delivery, now=now)
        assert result.attempts == attempt
        assert "HTTP 500" in result.last_error
        if attempt < 6:
            assert result.status == Delivery.Status.PENDING
            wait = result.next_attempt_at - now
            waits.append(wait.total_seconds())
            queued.clear()
            with django_capture_on_commit_callbacks(execute=True):
                assert notify.sweep_deliveries(now=now + wait - datetime.timedelta(seconds=1)) == 0
                assert notify.sweep_deliveries(now=now + wait) == 1
            assert queued == [(acme.pk, delivery.pk)]
            now += wait
    assert waits == [30, 60, 120, 240, 480]
    [gave_up] = deliveries()
    assert gave_up.status == Delivery.Status.FAILED
    assert gave_up.attempts == 6
    assert len(chat.requests) == 6
    assert send(gave_up) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert notify.sweep_deliveries(now=now + datetime.timedelta(days=1)) == 0

    after = fresh(incident)
    assert after.status == before.status == Status.INVESTIGATING
    assert after.version == before.version
    with scopes_disabled():
        assert TimelineEvent.objects.filter(incident=incident).count() == timeline


def test_a_broker_outage_neither_blocks_nor_rolls_back_the_change(
    acme, incident, responder, chat, webhook, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(tasks.deliver_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        transition(incident, "start_investigation", responder)
        notify.post_to_chat(organization=acme, incident=incident, text="Investigating", key="i")
    assert fresh(incident).status == Status.INVESTIGATING
    [delivery] = deliveries()
    assert delivery.status == Delivery.Status.PENDING
    assert chat.requests == []
    # The sweeper finds it (and the status message the transition posted); with the broker
    # still down it sends them itself.
    with django_capture_on_commit_callbacks(execute=True):
        assert notify.sweep_deliveries() == 2
    assert deliveries()[0].status == Delivery.Status.SENT
    assert len(chat.requests) == 2


def test_the_sweeper_picks_up_a_delivery_whose_message_was_lost(
    acme, incident, responder, queued, mailoutbox, django_capture_on_commit_callbacks
):
    tell(acme, [responder], incident=incident)  # queued without a commit: the message is lost
    [delivery] = deliveries()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert notify.sweep_deliveries(now=now) == 1
    assert queued == [(acme.pk, delivery.pk)]
    leased = deliveries()[0]
    assert leased.next_attempt_at == now + notify.REQUEUE_LEASE
    with django_capture_on_commit_callbacks(execute=True):
        assert notify.sweep_deliveries(now=now + datetime.timedelta(seconds=30)) == 0
    assert tasks.deliver_task(acme.pk, delivery.pk) == "sent"
    assert len(mailoutbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert notify.sweep_deliveries(now=now + datetime.timedelta(hours=1)) == 0


def test_the_sweeper_works_across_organisations_and_respects_its_limit(
    acme, globex, incident, responder, globex_admin, queued, django_capture_on_commit_callbacks
):
    tell(acme, [responder], incident=incident)
    tell(globex, [globex_admin.user], key="g1", title="Grid alarm")
    acme_delivery, globex_delivery = deliveries()
    queued.clear()
    later = timezone.now() + datetime.timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify.sweep_deliveries(now=later, limit=1) == 1
        assert notify.sweep_deliveries(now=later, limit=1) == 1
    assert sorted(queued) == sorted([(acme.pk, acme_delivery.pk), (globex.pk, globex_delivery.pk)])


# — inbox reads and writes —————————————————————————————————————————————————————————————


def test_mark_read_touches_only_the_persons_own_notifications(
    acme, incident, responder, other_responder, queued
):
    tell(acme, [responder, other_responder], incident=incident)
    tell(acme, [responder], key="k2", title="Second")
    mine = [n.pk for n in notifications(recipient=responder)]
    theirs = [n.pk for n in notifications(recipient=other_responder)]
    assert notify.unread_count(organization=acme, user=responder) == 2
    assert notify.mark_read(organization=acme, user=responder, ids=[mine[0], *theirs]) == 1
    assert notify.unread_count(organization=acme, user=responder) == 1
    assert notify.unread_count(organization=acme, user=other_responder) == 1
    assert notify.mark_read(organization=acme, user=responder) == 1
    assert notify.unread_count(organization=acme, user=responder) == 0
    assert notify.unread_count(organization=acme, user=other_responder) == 1
