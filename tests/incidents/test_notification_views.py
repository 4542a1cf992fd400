"""Notification pages: the inbox and its bell (only your own, only this organisation's), mark
read, preferences with their validation, and the admin pages for deliveries and chat webhooks
(403 for other roles, 404 for other organisations)."""

import datetime

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents import notify, tasks
from incidents.models import ChatWebhook, Delivery, Notification, NotificationPreference
from tenancy.roles import Role

pytestmark = pytest.mark.django_db


def url(view, org="acme", **kwargs):
    return reverse(f"notifications:{view}", kwargs={"org_slug": org, **kwargs})


@pytest.fixture
def queued(monkeypatch):
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.deliver_task, "delay", lambda *args: calls.append(args))
    return calls


def tell(org, users, key, title="You are on call", **kwargs):
    return notify.notify_users(
        organization=org, users=users, kind="escalation", title=title, key=key, **kwargs
    )


def notifications(**filters) -> list[Notification]:
    with scopes_disabled():
        return list(Notification.objects.filter(**filters).order_by("pk"))


def failed_delivery(org, **fields) -> Delivery:
    with scopes_disabled():
        return Delivery.objects.create(
            organization=org,
            channel=Delivery.Channel.CHAT,
            idempotency_key=fields.pop("key", "failed-1"),
            **{
                "target": "https://hooks.example.test/services/T0/B0/abcd1234",
                "status": Delivery.Status.FAILED,
                "attempts": 6,
                "last_error": "HTTP 500 Internal Server Error: boom",
                **fields,
            },
        )


@pytest.fixture
def hook(acme):
    with scopes_disabled():
        return ChatWebhook.objects.create(
            organization=acme,
            name="#incidents",
            url="https://hooks.example.test/services/T0/B0/abcd1234",
        )


# — inbox and bell —————————————————————————————————————————————————————————————————————


def test_the_inbox_shows_your_notifications_newest_first_and_nobody_elses(
    acme, globex, incident, responder, other_responder, make_member, login, queued
):
    make_member(globex, Role.RESPONDER, email=responder.email)  # Rita is in both orgs
    tell(acme, [responder], "a1", title="Older one")
    tell(acme, [responder], "a2", title="Newer one", incident=incident)
    tell(acme, [other_responder], "a3", title="For Oscar only")
    tell(globex, [responder], "g1", title="Globex grid alarm")
    response = login(responder).get(url("inbox"))
    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Newer one") < content.index("Older one")
    assert "For Oscar only" not in content
    assert "Globex grid alarm" not in content
    assert incident.key in content
    assert "2 unread" in content
    globex_inbox = login(responder).get(url("inbox", org="globex")).content.decode()
    assert "Globex grid alarm" in globex_inbox
    assert "Older one" not in globex_inbox


def test_unread_notifications_are_emphasised_in_words_not_only_style(
    acme, responder, login, queued
):
    tell(acme, [responder], "a1", title="Unread one")
    tell(acme, [responder], "a2", title="Read one")
    [_, read_one] = notifications(recipient=responder)
    notify.mark_read(organization=acme, user=responder, ids=[read_one.pk])
    content = login(responder).get(url("inbox")).content.decode()
    assert content.count('<tr class="unread">') == 1
    assert content.count('<tr class="read">') == 1
    assert ">New</span>" in content
    unread_only = login(responder).get(url("inbox"), {"show": "unread"}).content.decode()
    assert "Unread one" in unread_only
    assert "Read one" not in unread_only


def test_the_inbox_is_paginated(acme, responder, login, queued):
    for n in range(30):
        tell(acme, [responder], f"n{n}", title=f"Notice {n:02d}")
    client = login(responder)
    first = client.get(url("inbox")).content.decode()
    assert "Notice 29" in first
    assert "Notice 00" not in first
    assert "Page 1 of 2" in first
    assert "Notice 00" in client.get(url("inbox"), {"page": 2}).content.decode()


def test_an_empty_inbox_explains_itself_and_offers_the_preferences(acme, responder, login):
    content = login(responder).get(url("inbox")).content.decode()
    assert "No notifications yet" in content
    assert url("preference_update") in content
    assert "Mark all read" not in content


def test_the_bell_shows_the_unread_count_of_this_organisation(
    acme, globex, responder, make_member, login, queued
):
    make_member(globex, Role.RESPONDER, email=responder.email)
    tell(acme, [responder], "a1")
    tell(acme, [responder], "a2")
    tell(globex, [responder], "g1")
    client = login(responder)
    page = client.get(reverse("incidents:incident_list", kwargs={"org_slug": "acme"}))
    content = page.content.decode()
    assert 'data-testid="bell"' in content
    assert '<span class="bell-count">2</span>' in content
    assert url("inbox") in content
    globex_page = client.get(url("inbox", org="globex")).content.decode()
    assert '<span class="bell-count">1</span>' in globex_page
    fragment = client.get(url("notification_bell")).content.decode()
    assert '<span class="bell-count">2</span>' in fragment


def test_the_bell_costs_one_query(acme, responder, django_assert_num_queries, queued):
    tell(acme, [responder], "a1")
    request = RequestFactory().get("/o/acme/")
    request.org, request.user = acme, responder
    template = Template("{% load notifications %}{% notification_bell %}")
    with django_assert_num_queries(1):
        html = template.render(Context({"request": request}))
    assert '<span class="bell-count">1</span>' in html


def test_no_bell_outside_an_organisation(responder, login):
    content = login(responder).get(reverse("password_change")).content.decode()
    assert 'data-testid="bell"' not in content


def test_mark_all_read_marks_only_your_own(acme, responder, other_responder, login, queued):
    tell(acme, [responder, other_responder], "a1")
    tell(acme, [responder], "a2")
    response = login(responder).post(url("notification_mark_read"), {"all": "1"})
    assert response.status_code == 302
    assert response["Location"] == url("inbox")
    assert notify.unread_count(organization=acme, user=responder) == 0
    assert notify.unread_count(organization=acme, user=other_responder) == 1


def test_another_persons_notification_ids_are_never_marked_read(
    acme, responder, other_responder, login, queued
):
    tell(acme, [other_responder], "theirs")
    tell(acme, [responder], "mine")
    [theirs] = notifications(recipient=other_responder)
    [mine] = notifications(recipient=responder)
    client = login(responder)
    client.post(url("notification_mark_read"), {"ids": [theirs.pk, mine.pk, "junk"]})
    assert notifications(recipient=other_responder)[0].read_at is None
    assert notifications(recipient=responder)[0].read_at is not None
    assert client.get(url("notification_open", pk=theirs.pk)).status_code == 404
    assert notifications(recipient=other_responder)[0].read_at is None


def test_opening_a_notification_marks_it_read_and_follows_its_link(
    acme, incident, responder, login, queued
):
    tell(acme, [responder], "a1", incident=incident)
    [notification] = notifications(recipient=responder)
    response = login(responder).get(url("notification_open", pk=notification.pk))
    assert response.status_code == 302
    assert response["Location"] == f"/o/acme/incidents/{incident.key}/"
    assert notifications(recipient=responder)[0].read_at is not None


def test_mark_read_goes_back_to_the_inbox_page_it_came_from_and_nowhere_else(
    acme, responder, login, queued
):
    tell(acme, [responder], "a1")
    client = login(responder)
    back = client.post(
        url("notification_mark_read"), {"all": "1", "next": url("inbox") + "?page=2"}
    )
    assert back["Location"] == url("inbox") + "?page=2"
    away = client.post(url("notification_mark_read"), {"all": "1", "next": "https://evil.test/"})
    assert away["Location"] == url("inbox")


def test_a_member_of_another_organisation_gets_404_on_every_notifications_page(
    acme, stranger, hook, login
):
    client = login(stranger)
    for path in (
        url("inbox"),
        url("notification_bell"),
        url("preference_update"),
        url("delivery_list"),
        url("chat_webhook_list"),
        url("chat_webhook_update", pk=hook.pk),
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(url("notification_mark_read"), {"all": "1"}).status_code == 404
    assert client.post(url("chat_webhook_test", pk=hook.pk)).status_code == 404


# — preferences ——————————————————————————————————————————————————————————————————————


def preference_of(org, user):
    with scopes_disabled():
        return NotificationPreference.objects.filter(organization=org, user=user).first()


def test_preferences_show_the_defaults_and_save_per_person_and_organisation(
    acme, globex, responder, make_member, login
):
    make_member(globex, Role.RESPONDER, email=responder.email)
    client = login(responder)
    page = client.get(url("preference_update")).content.decode()
    assert 'id="id_email" checked>' in page
    assert 'id="id_chat" checked>' in page
    assert "The organisation&#x27;s (Europe/Berlin)" in page
    response = client.post(
        url("preference_update"),
        {"chat": "on", "quiet_start": "22:00", "quiet_end": "07:00", "timezone": "Asia/Tokyo"},
    )
    assert response.status_code == 302
    saved = preference_of(acme, responder)
    assert (saved.email, saved.chat) == (False, True)
    assert (saved.quiet_start, saved.quiet_end) == (datetime.time(22), datetime.time(7))
    assert saved.timezone == "Asia/Tokyo"
    assert preference_of(globex, responder) is None
    again = client.get(url("preference_update")).content.decode()
    assert 'value="22:00"' in again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quiet_start": "22:00"}, "Give the end of your quiet hours too."),
        ({"quiet_end": "07:00"}, "Give the start of your quiet hours too."),
        ({"quiet_start": "22:00", "quiet_end": "22:00"}, "must end at another time"),
        ({"quiet_start": "25:00", "quiet_end": "07:00"}, "Enter a valid time."),
        ({"timezone": "Mars/Olympus"}, "Select a valid choice."),
    ],
)
def test_preferences_refuse_what_does_not_make_sense_and_save_nothing(
    acme, responder, login, data, message
):
    response = login(responder).post(url("preference_update"), {"email": "on", **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert preference_of(acme, responder) is None


# — deliveries (admins) ———————————————————————————————————————————————————————————————


def test_admins_see_failed_and_pending_deliveries_with_attempts_and_errors(
    acme, globex, admin, login
):
    failed_delivery(acme)
    failed_delivery(
        acme,
        key="pending-1",
        status=Delivery.Status.PENDING,
        attempts=2,
        last_error="HTTP 502 Bad Gateway",
    )
    failed_delivery(acme, key="sent-1", status=Delivery.Status.SENT, last_error="SENT-ONE")
    failed_delivery(globex, key="globex-1", last_error="GLOBEX-ERROR")
    content = login(admin).get(url("delivery_list")).content.decode()
    assert "HTTP 500 Internal Server Error: boom" in content
    assert "HTTP 502 Bad Gateway" in content
    assert "SENT-ONE" not in content
    assert "GLOBEX-ERROR" not in content
    assert "abcd1234" not in content  # the webhook URL's secret path is not shown
    assert "https://hooks.example.test/…1234" in content
    assert content.count("Retry now") == 2


def test_retry_now_makes_a_failed_delivery_pending_and_queues_it(
    acme, admin, login, queued, django_capture_on_commit_callbacks
):
    delivery = failed_delivery(acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin).post(url("delivery_retry", pk=delivery.pk))
    assert response.status_code == 302
    with scopes_disabled():
        retried = Delivery.objects.get(pk=delivery.pk)
    assert retried.status == Delivery.Status.PENDING
    assert queued == [(acme.pk, delivery.pk)]


def test_a_sent_delivery_cannot_be_retried(acme, admin, login, queued):
    delivery = failed_delivery(acme, status=Delivery.Status.SENT)
    response = login(admin).post(url("delivery_retry", pk=delivery.pk), follow=True)
    assert "was sent already" in response.content.decode()
    assert queued == []


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.MANAGER, Role.VIEWER, Role.COMPLIANCE])
def test_other_roles_are_refused_the_admin_pages_and_nothing_changes(
    acme, make_member, login, hook, queued, role
):
    member = make_member(acme, role, email=f"{role}@acme.test").user
    delivery = failed_delivery(acme)
    client = login(member)
    assert client.get(url("delivery_list")).status_code == 403
    assert client.get(url("chat_webhook_list")).status_code == 403
    assert client.get(url("chat_webhook_update", pk=hook.pk)).status_code == 403
    assert client.post(url("delivery_retry", pk=delivery.pk)).status_code == 403
    assert client.post(url("chat_webhook_test", pk=hook.pk)).status_code == 403
    assert client.post(url("chat_webhook_set_active", pk=hook.pk)).status_code == 403
    refused_add = client.post(
        url("chat_webhook_list"),
        {"name": "Mine", "url": "https://example.test/hook", "min_severity_level": 4},
    )
    assert refused_add.status_code == 403
    with scopes_disabled():
        assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.FAILED
        assert list(ChatWebhook.objects.values_list("name", "is_active")) == [("#incidents", True)]
        assert Delivery.objects.count() == 1
    assert queued == []
    assert "Deliveries" not in client.get(url("inbox")).content.decode()


def test_an_admin_cannot_reach_another_organisations_rows_through_their_own(
    acme, globex, admin, login
):
    foreign = failed_delivery(globex, key="globex-1")
    with scopes_disabled():
        foreign_hook = ChatWebhook.objects.create(
            organization=globex, name="globex", url="https://globex.test/hook"
        )
    client = login(admin)
    assert client.post(url("delivery_retry", pk=foreign.pk)).status_code == 404
    assert client.get(url("chat_webhook_update", pk=foreign_hook.pk)).status_code == 404
    assert client.post(url("chat_webhook_test", pk=foreign_hook.pk)).status_code == 404


# — chat webhooks (admins) ————————————————————————————————————————————————————————————


def webhooks():
    with scopes_disabled():
        return list(ChatWebhook.objects.order_by("pk"))


def test_an_admin_adds_edits_and_deactivates_a_chat_webhook(acme, admin, login):
    client = login(admin)
    page = client.get(url("chat_webhook_list")).content.decode()
    assert "No chat webhooks yet" in page
    assert "SEV-2 or stronger" in page
    added = client.post(
        url("chat_webhook_list"),
        {
            "name": "#incidents",
            "url": "https://hooks.example.test/services/T0/B0/abcd1234",
            "min_severity_level": "2",
            "is_active": "on",
        },
    )
    assert added.status_code == 302
    [hook] = webhooks()
    assert (hook.name, hook.min_severity_level, hook.is_active) == ("#incidents", 2, True)
    listed = client.get(url("chat_webhook_list")).content.decode()
    assert "#incidents" in listed
    assert "abcd1234" not in listed
    edited = client.post(
        url("chat_webhook_update", pk=hook.pk),
        {"name": "#war-room", "url": hook.url, "min_severity_level": "1", "is_active": "on"},
    )
    assert edited.status_code == 302
    assert (webhooks()[0].name, webhooks()[0].min_severity_level) == ("#war-room", 1)
    client.post(url("chat_webhook_set_active", pk=hook.pk), {"is_active": "0"})
    assert webhooks()[0].is_active is False
    client.post(url("chat_webhook_set_active", pk=hook.pk), {"is_active": "1"})
    assert webhooks()[0].is_active is True


@pytest.mark.parametrize(
    "bad_url",
    ["ftp://files.example.test/hook", "javascript:alert(1)", "file:///etc/passwd", "not a url"],
)
def test_a_chat_webhook_url_must_be_http_or_https(acme, admin, login, bad_url):
    response = login(admin).post(
        url("chat_webhook_list"), {"name": "Bad", "url": bad_url, "min_severity_level": "4"}
    )
    assert response.status_code == 200
    assert "Enter an http:// or https:// URL" in response.content.decode()
    assert webhooks() == []


def test_send_test_message_creates_a_delivery_and_queues_it(
    acme, admin, hook, login, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin).post(url("chat_webhook_test", pk=hook.pk))
    assert response.status_code == 302
    with scopes_disabled():
        [delivery] = Delivery.objects.all()
    assert (delivery.channel, delivery.target, delivery.status) == ("chat", hook.url, "pending")
    assert "Test message from Vigil for Acme Payments" in delivery.payload["text"]
    assert queued == [(acme.pk, delivery.pk)]


def test_retries_follow_a_corrected_webhook_url_and_stop_when_it_is_deactivated(
    acme, admin, hook, login
):
    failed = failed_delivery(acme, target=hook.url)
    waiting = failed_delivery(
        acme, key="pending-1", target=hook.url, status=Delivery.Status.PENDING, attempts=1
    )
    client = login(admin)
    fixed = "https://hooks.example.test/services/T0/B0/fixed999"
    client.post(
        url("chat_webhook_update", pk=hook.pk),
        {"name": hook.name, "url": fixed, "min_severity_level": "4", "is_active": "on"},
    )
    with scopes_disabled():
        assert Delivery.objects.get(pk=failed.pk).target == fixed
        assert Delivery.objects.get(pk=waiting.pk).target == fixed
    client.post(url("chat_webhook_set_active", pk=hook.pk), {"is_active": "0"})
    with scopes_disabled():
        skipped = Delivery.objects.get(pk=waiting.pk)
        assert Delivery.objects.get(pk=failed.pk).status == Delivery.Status.FAILED
    assert skipped.status == Delivery.Status.SKIPPED
    assert "deactivated" in skipped.last_error
