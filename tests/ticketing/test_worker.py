"""End to end through a real Celery worker and Redis: declaring, investigating and resolving
an incident creates, comments on and transitions its Jira issue — once each."""

import time

import pytest
from django_scopes import scopes_disabled

from integrations.ticketing.models import TicketCall, TicketLink
from tests.incidents.factories import declare, document, transition
from tests.ticketing.conftest import jira_fields, make_integration

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def statuses() -> list[tuple[str, str]]:
    with scopes_disabled():
        return list(TicketCall.objects.order_by("pk").values_list("kind", "status"))


def test_the_worker_mirrors_an_incident_to_jira(celery_worker, acme, acme_admin, responder, jira):
    make_integration(acme_admin, jira_fields(jira.url))  # stored, encrypted credential
    celery_worker()

    incident = declare(acme, responder)
    wait_for(lambda: statuses() == [("create", "sent")], what="the issue")
    with scopes_disabled():
        link = TicketLink.objects.get(incident=incident)
    assert link.ticket_key == "OPS-1"
    assert jira.issues["OPS-1"]["fields"]["summary"].startswith(f"{incident.key}: ")

    incident = transition(incident, "start_investigation", responder)
    incident = document(incident, responder)
    transition(incident, "resolve", responder)
    wait_for(
        lambda: len(statuses()) == 4 and all(s == "sent" for _, s in statuses()),
        what="comments and the transition",
    )
    assert len(jira.issues) == 1
    assert len(jira.comments["OPS-1"]) == 2
    assert jira.issues["OPS-1"]["status"] == "Done"
