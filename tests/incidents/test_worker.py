"""Against a real Celery worker and Redis: a breach escalates exactly once — with several
sweeps at once, and across a worker killed with SIGKILL in the middle of an escalation."""

import datetime as dt
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import EscalationRun, Notification, SlaTimer, TimelineEvent
from incidents.tasks import sweep_sla_task
from taxonomy.models import EscalationPath, EscalationStep
from tests.incidents.factories import declare, severity

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sev1_breached(acme, responder, other_responder):
    """A SEV-1 whose acknowledge clock ran out a minute ago; its escalation path pages two
    people at once (no other step), and nothing was swept yet."""
    level = severity(acme, "SEV-1")
    with scopes_disabled():
        path = EscalationPath.objects.create(organization=acme, name="SEV-1 pager", severity=level)
        step = EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=1,
            delay_minutes=0,
            target_kind="user",
            user=other_responder,
        )
    incident = declare(acme, responder, severity=level, commander=responder)
    with scopes_disabled():
        # The walk for a new incident is someone else's test: only the breach pages here.
        EscalationRun.objects.filter(incident=incident).update(cancelled_at=timezone.now())
        SlaTimer.objects.filter(incident=incident, phase="acknowledge").update(
            due_at=timezone.now() - dt.timedelta(minutes=1),
            warn_at=None,
        )
    return incident, step


def escalation_state(incident):
    with scopes_disabled():
        breach_runs = EscalationRun.objects.filter(incident=incident, trigger__startswith="breach")
        return {
            "breaches": TimelineEvent.objects.filter(
                incident=incident, kind="sla", message__contains="breached"
            ).count(),
            "runs": breach_runs.count(),
            "fired": breach_runs.filter(fired_at__isnull=False).count(),
            "notifications": Notification.objects.filter(
                incident=incident, kind="escalation"
            ).count(),
        }


def test_a_breach_fires_its_escalation_exactly_once(celery_worker, sev1_breached):
    incident, _ = sev1_breached
    celery_worker(concurrency=2)
    for _ in range(6):  # beat's ticks, some of them running at once
        sweep_sla_task.delay()
    wait_for(lambda: escalation_state(incident)["fired"] == 1, what="the escalation to fire")
    for _ in range(4):
        sweep_sla_task.delay()
    time.sleep(1.5)  # let those sweeps run: they must find nothing
    assert escalation_state(incident) == {"breaches": 1, "runs": 1, "fired": 1, "notifications": 1}


def test_a_worker_killed_mid_escalation_completes_it_once_after_restart(
    celery_worker, sev1_breached, other_responder
):
    """The test holds the notification's unique key in an open transaction, so the worker's
    escalation blocks half-way (breach marked, run claimed, nothing committed); then the whole
    worker is SIGKILLed, the test lets go, and a new worker finishes the job once."""
    incident, _ = sev1_breached
    with scopes_disabled():
        run_id_guess = EscalationRun.objects.order_by("-pk").values_list("pk", flat=True).first()
    blocker = connections.create_connection("default")
    blocker.connect()
    blocker.set_autocommit(False)
    try:
        # The first breach run will get the next id; its notification key is fixed by it.
        key = f"escalation:{(run_id_guess or 0) + 1}:{other_responder.pk}"
        with blocker.cursor() as cursor:
            cursor.execute(
                "INSERT INTO incidents_notification (organization_id, recipient_id, kind, title,"
                " body, url, idempotency_key, created_at) VALUES (%s, %s, 'blocker', 'x', '',"
                " '', %s, now())",
                [incident.organization_id, other_responder.pk, key],
            )
        worker = celery_worker(concurrency=1)
        sweep_sla_task.delay()
        wait_for(
            lambda: "sweep_sla_task" in worker.log_path.read_text(errors="replace"),
            what="the sweep to start",
        )
        time.sleep(1.0)  # it is now waiting on our lock, inside its transaction
        assert escalation_state(incident)["fired"] == 0
        worker.crash()
    finally:
        blocker.rollback()
        blocker.close()
    assert escalation_state(incident)["fired"] == 0, "nothing of the killed attempt committed"

    restarted = time.monotonic()
    celery_worker(concurrency=1)
    sweep_sla_task.delay()  # beat's next tick
    done = wait_for(lambda: escalation_state(incident)["fired"] == 1, what="recovery")
    assert done - restarted < 30
    sweep_sla_task.delay()
    time.sleep(1.5)
    assert escalation_state(incident) == {"breaches": 1, "runs": 1, "fired": 1, "notifications": 1}


def test_timers_survive_a_restart_of_everything(celery_worker, sev1_breached):
    """Nothing about a deadline lives in Redis: with the broker emptied and no worker, the due
    timer waits in PostgreSQL, and the first sweep after the restart fires it."""
    from tests.worker import flush_test_broker

    incident, _ = sev1_breached
    flush_test_broker()
    celery_worker(concurrency=1)
    sweep_sla_task.delay()
    wait_for(lambda: escalation_state(incident)["fired"] == 1, what="the escalation")
    with transaction.atomic(), scopes_disabled():
        assert SlaTimer.objects.get(incident=incident, phase="acknowledge").breached_at
