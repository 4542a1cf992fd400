"""The deadlines of an access review with a controlled clock: the reminder to reviewers with
lines pending before the due date, the escalation to admins once it has passed — each exactly
once, also under two sweepers at once — and the hourly task that starts due reviews."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.reviews import scheduling, services
from compliance.reviews.models import Campaign
from compliance.reviews.tasks import sweep_access_reviews_task
from incidents.models import Notification
from tenancy.roles import Role
from tests.compliance.reviews.conftest import campaigns, lines_of, start


def sent(kind) -> list[str]:
    with scopes_disabled():
        return list(
            Notification.objects.filter(kind=kind)
            .order_by("recipient__email")
            .values_list("recipient__email", flat=True)
        )


def fresh(campaign) -> Campaign:
    with scopes_disabled():
        return Campaign.objects.get(pk=campaign.pk)


@pytest.fixture
def review(acme, admin, cora, responder, make_member):
    """A review started at a fixed moment: admin, Cora and a second admin as reviewers."""
    make_member(acme, Role.ADMIN, email="ada@acme.test")
    now = timezone.now().replace(microsecond=0)
    return start(acme, now=now)


@pytest.mark.django_db
def test_starting_tells_the_reviewers(review):
    assert sent("access_review_started") == ["ada@acme.test", "admin@acme.test", "cora@acme.test"]


@pytest.mark.django_db
def test_nothing_fires_before_the_reminder_time(review):
    counts = scheduling.sweep(now=review.remind_at - timedelta(seconds=1))

    assert counts == {"escalated": 0, "reminded": 0}
    assert fresh(review).reminded_at is None
    assert sent("access_review_reminder") == []


@pytest.mark.django_db
def test_the_reminder_goes_once_to_reviewers_with_lines_pending(review, cora):
    for line in lines_of(review):
        if line.reviewer == cora:
            services.line_certify(line=line, actor=cora)  # Cora is done
    moment = review.remind_at + timedelta(minutes=5)

    first = scheduling.sweep(now=moment)
    again = scheduling.sweep(now=moment + timedelta(hours=1))

    assert first == {"escalated": 0, "reminded": 1}
    assert again == {"escalated": 0, "reminded": 0}
    assert fresh(review).reminded_at == moment
    assert sent("access_review_reminder") == ["ada@acme.test", "admin@acme.test"]
    assert sent("access_review_overdue") == []


@pytest.mark.django_db
def test_the_escalation_goes_once_to_the_admins_when_overdue(review):
    scheduling.sweep(now=review.remind_at)
    moment = review.due_at + timedelta(minutes=1)

    first = scheduling.sweep(now=moment)
    again = scheduling.sweep(now=moment + timedelta(days=2))

    assert first == {"escalated": 1, "reminded": 0}
    assert again == {"escalated": 0, "reminded": 0}
    assert fresh(review).escalated_at == moment
    assert sent("access_review_overdue") == ["ada@acme.test", "admin@acme.test"]
    assert sent("access_review_reminder") == ["ada@acme.test", "admin@acme.test", "cora@acme.test"]


@pytest.mark.django_db
def test_a_sweeper_that_was_down_escalates_without_a_late_reminder(review):
    counts = scheduling.sweep(now=review.due_at + timedelta(days=3))

    assert counts == {"escalated": 1, "reminded": 0}
    assert sent("access_review_reminder") == []
    assert fresh(review).reminded_at == review.due_at + timedelta(days=3)


@pytest.mark.django_db
def test_a_signed_off_review_is_neither_reminded_nor_escalated(review, admin, cora):
    for line in lines_of(review):
        actor = line.reviewer or cora
        services.line_certify(line=line, actor=actor)
    services.campaign_sign_off(campaign=review, actor=cora)

    counts = scheduling.sweep(now=review.due_at + timedelta(days=1))

    assert counts == {"escalated": 0, "reminded": 0}
    assert sent("access_review_overdue") == []


@pytest.mark.django_db
def test_the_hourly_task_starts_due_reviews_and_sweeps(acme, admin, cora):
    counts = sweep_access_reviews_task()

    assert counts == {"started": 1, "escalated": 0, "reminded": 0}
    assert campaigns(acme)[0].trigger == Campaign.Trigger.SCHEDULE
    assert sweep_access_reviews_task()["started"] == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_escalate_and_notify_once(review):
    moment = review.due_at + timedelta(hours=1)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(scheduling.sweep(now=moment))
        except Exception as error:  # collected for the assertion
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r["escalated"] for r in results) == [0, 1]
    assert sent("access_review_overdue") == ["ada@acme.test", "admin@acme.test"]


@pytest.mark.django_db
def test_the_escalation_e_mail_names_the_review_and_links_to_it(review, mailoutbox):
    from incidents.models import Delivery
    from incidents.notify import deliver

    scheduling.sweep(now=review.due_at + timedelta(minutes=1))
    with scopes_disabled():
        deliveries = list(
            Delivery.objects.filter(idempotency_key__startswith=f"access_review:{review.pk}:esc")
        )
    for delivery in deliveries:
        deliver(delivery=delivery)

    assert sorted(message.to[0] for message in mailoutbox) == ["ada@acme.test", "admin@acme.test"]
    message = mailoutbox[0]
    assert message.subject.startswith("Access review overdue (was due ")
    assert "4 lines are still pending" in message.body
    assert f"/o/acme/compliance/reviews/{review.pk}/" in message.body
