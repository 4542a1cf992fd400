"""Against a real Celery worker and Redis: publishing a message e-mails the confirmed
subscribers — one delivery each, sent once — and nobody else."""

import time

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import Delivery
from incidents.statuspage.models import Subscriber
from tests.statuspage.conftest import approve, draft, publish

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_published_message_reaches_confirmed_subscribers_through_the_worker(
    celery_worker, acme, page_on, responder, speaker
):
    with scopes_disabled():
        confirmed = [
            Subscriber.objects.create(
                organization=acme, email=f"fan{n}@example.org", confirmed_at=timezone.now()
            )
            for n in range(3)
        ]
        Subscriber.objects.create(organization=acme, email="pending@example.org")
    celery_worker()
    message = draft(acme, responder)
    approve(acme, speaker, message)

    publish(acme, speaker, message)  # commits: the task goes to the worker

    def sent():
        with scopes_disabled():
            return list(
                Delivery.objects.filter(idempotency_key__startswith="statuspage:message:")
                .order_by("target")
                .values_list("target", "status")
            )

    wait_for(lambda: len(sent()) == 3 and all(s == "sent" for _, s in sent()), what="three e-mails")
    assert [target for target, _ in sent()] == sorted(s.email for s in confirmed)
