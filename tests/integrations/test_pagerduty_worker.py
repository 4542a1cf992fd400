"""Against a real Celery worker and Redis: the SLA sweeper fires a PagerDuty step in the
worker, the page is queued on commit and sent by the worker to the Events API stand-in —
exactly once, however many sweeps run."""

import time

import pytest
from django_scopes import scopes_disabled

from incidents.tasks import sweep_sla_task
from integrations.pagerduty.models import PagerDutyEvent
from tests.incidents.factories import declare
from tests.integrations.pagerduty_standin import EventsApi
from tests.integrations.test_pagerduty import ROUTING_KEY, make_service, pager_path

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_worker_pages_pagerduty_once(
    celery_worker, acme, acme_admin, responder, settings, monkeypatch
):
    api = EventsApi()
    try:
        # The worker is another process: it reads both from its environment.
        monkeypatch.setenv("PAGERDUTY_EVENTS_URL", api.url)
        monkeypatch.setenv("VIGIL_PAGERDUTY_WORKER_ROUTING_KEY", ROUTING_KEY)
        settings.PAGERDUTY_EVENTS_URL = api.url
        service = make_service(
            acme,
            acme_admin,
            routing_key="env:VIGIL_PAGERDUTY_WORKER_ROUTING_KEY",
            secret="env:VIGIL_PAGERDUTY_NO_SECRET",
        )
        pager_path(acme, service)
        celery_worker(concurrency=2)
        incident = declare(acme, responder, title="Checkout is down")
        for _ in range(4):  # beat's ticks, some at once
            sweep_sla_task.delay()

        def sent():
            with scopes_disabled():
                return PagerDutyEvent.objects.filter(incident=incident, status="sent").exists()

        wait_for(sent, what="the page to be sent by the worker")
        for _ in range(3):
            sweep_sla_task.delay()
        time.sleep(1.5)  # those sweeps must find nothing more to page
        assert api.pages == 1
        assert len(api.requests) == 1
        (event,) = api.events()
        assert (event["event_action"], event["dedup_key"]) == ("trigger", incident.key)
        assert event["routing_key"] == ROUTING_KEY
    finally:
        api.close()
