"""Against a real Celery worker and Redis: a declared SEV-1 gets its Slack channel created by
the worker, and a channel whose Celery message was lost is picked up by the sweeper."""

import time

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.channels.models import IncidentChannel, OutboundChannelMessage
from incidents.channels.services import sweep_channels
from tests.channels.conftest import TOKEN, configure
from tests.incidents.factories import declare, severity

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def slack_channel(incident):
    with scopes_disabled():
        return IncidentChannel.objects.filter(incident=incident, provider="slack").first()


def test_a_declared_sev1_gets_its_slack_channel_through_the_worker(
    acme, responder, fake_slack, celery_worker
):
    configure(
        acme,
        slack_level=2,
        slack_token=TOKEN,
        slack_base_url=fake_slack.base_url,
        slack_invitees="U0AAA1",
        slack_team_id="T0ACME",
    )
    celery_worker(concurrency=2)

    incident = declare(acme, responder, severity=severity(acme, "SEV-1"))

    wait_for(
        lambda: getattr(slack_channel(incident), "status", None) == "ready",
        what="the Slack channel",
    )
    with scopes_disabled():
        wait_for(
            lambda: OutboundChannelMessage.objects.filter(
                channel__incident=incident, status="sent"
            ).exists(),
            what="the opening message",
        )
    assert slack_channel(incident).url == "https://app.slack.com/client/T0ACME/C100"
    assert fake_slack.methods() == [
        "conversations.create",
        "conversations.invite",
        "chat.postMessage",
    ]


def test_the_sweeper_queues_a_channel_whose_message_was_lost(
    acme, responder, fake_slack, celery_worker
):
    configure(acme, slack_level=2, slack_token=TOKEN, slack_base_url=fake_slack.base_url)
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"))
    # The receiver queued its task before any worker ran; Redis loses it.
    from tests.worker import flush_test_broker

    flush_test_broker()
    with scopes_disabled():
        IncidentChannel.objects.filter(incident=incident, provider="slack").update(
            queued_at=timezone.now() - timezone.timedelta(minutes=5)
        )
    celery_worker(concurrency=1)
    time.sleep(1)
    assert slack_channel(incident).status == "pending"

    assert sweep_channels()["channels"] == 1

    wait_for(lambda: slack_channel(incident).status == "ready", what="the swept Slack channel")
    assert fake_slack.methods().count("conversations.create") == 1
