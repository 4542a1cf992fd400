"""Against a real Celery worker and Redis: the beat task runs a due schedule — the report is
stored once and its e-mail deliveries are sent by the worker."""

import datetime
import time

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import Delivery
from reporting.models import ExecutiveReport, ReportSchedule
from reporting.tasks import sweep_executive_reports_task

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sent(schedule):
    with scopes_disabled():
        return list(
            Delivery.objects.filter(
                idempotency_key__startswith="executive:", status=Delivery.Status.SENT
            ).values_list("target", flat=True)
        )


def test_a_due_schedule_runs_once_through_the_worker(celery_worker, acme, admin):
    with scopes_disabled():
        schedule = ReportSchedule.objects.create(
            organization=acme,
            name="Weekly",
            frequency="weekly",
            weekday=0,
            hour=8,
            emails=["board@example.org"],
            next_run_at=timezone.now() - datetime.timedelta(minutes=1),
            created_by=admin,
        )
        schedule.members.add(admin)
    celery_worker(concurrency=2)

    for _ in range(3):  # beat's ticks, some at once
        sweep_executive_reports_task.delay()
    wait_for(lambda: len(sent(schedule)) == 2, what="the report's e-mails to be sent")

    with scopes_disabled():
        [report] = ExecutiveReport.objects.filter(organization=acme)
        schedule.refresh_from_db()
    assert report.schedule_id == schedule.pk
    assert bytes(report.pdf).startswith(b"%PDF")
    assert report.period_start.weekday() == 0
    assert report.period_end - report.period_start == datetime.timedelta(days=6)
    assert sorted(sent(schedule)) == ["admin@acme.test", "board@example.org"]
    assert schedule.next_run_at > timezone.now()
    assert schedule.last_run_at is not None
