"""Real concurrency against PostgreSQL: gap-free incident numbers under parallel declarations,
and optimistic locking when two people move the same incident at once. Each thread has its
own database connection and enters the organisation's scope itself."""

import threading

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled

from incidents import services
from incidents.lifecycle import Status
from incidents.models import Incident, KeyCounter, TimelineEvent
from tenancy.scoping import org_scope
from tests.incidents.factories import declare, severity

pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(count: int, work) -> tuple[list, list[Exception]]:
    """Run work(i) in `count` threads released together; their results and their errors."""
    barrier = threading.Barrier(count)
    results, errors = [], []
    lock = threading.Lock()

    def target(i):
        try:
            barrier.wait(timeout=30)
            outcome = work(i)
            with lock:
                results.append(outcome)
        except Exception as error:  # collected for the assertions
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def test_twenty_parallel_declarations_get_the_numbers_one_to_twenty(acme, responder):
    sev3 = severity(acme, "SEV-3")

    def declare_one(i):
        with org_scope(acme):
            incident = services.incident_create(
                organization=acme, actor=responder, title=f"Outage {i}", severity=sev3
            )
        return incident.number

    numbers, errors = run_at_once(20, declare_one)

    assert errors == []
    assert sorted(numbers) == list(range(1, 21))
    with scopes_disabled():
        assert sorted(Incident.objects.filter(organization=acme).values_list("key", flat=True)) == (
            sorted(f"ACME-{n}" for n in range(1, 21))
        )
        assert KeyCounter.objects.get(organization=acme).last_number == 20


def test_a_rolled_back_declaration_gives_its_number_back(acme, responder):
    def declare_then_fail():
        with transaction.atomic():
            declare(acme, responder, title="Rolled back")
            raise RuntimeError("the request failed after declaring")

    with org_scope(acme):
        first = declare(acme, responder, title="First")
        with pytest.raises(RuntimeError):
            declare_then_fail()
        second = declare(acme, responder, title="Second")

    assert (first.key, second.key) == ("ACME-1", "ACME-2")
    with scopes_disabled():
        assert Incident.objects.filter(organization=acme).count() == 2
        assert KeyCounter.objects.get(organization=acme).last_number == 2


def test_two_people_moving_the_same_version_at_once_exactly_one_wins(acme, responder):
    incident = declare(acme, responder)

    def start(i):
        with org_scope(acme):
            return services.incident_transition(
                incident=incident,
                name="start_investigation",
                actor=responder,
                expected_version=incident.version,
            ).status

    results, errors = run_at_once(2, start)

    assert results == [Status.INVESTIGATING]
    assert len(errors) == 1
    assert isinstance(errors[0], services.ConcurrentChange)
    with scopes_disabled():
        stored = Incident.objects.get(pk=incident.pk)
        assert (stored.status, stored.version) == (Status.INVESTIGATING, 2)
        assert (
            TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.STATUS).count()
            == 1
        )


def test_two_different_transitions_at_once_are_serialised_not_lost(acme, responder):
    incident = declare(acme, responder)
    names = ["start_investigation", "dismiss"]

    def move(i):
        with org_scope(acme):
            return services.incident_transition(
                incident=incident, name=names[i], actor=responder, note="Racing."
            ).status

    results, errors = run_at_once(2, move)

    assert len(results) == 1
    assert len(errors) == 1
    assert "is not possible while the incident is" in errors[0].messages[0]
    with scopes_disabled():
        stored = Incident.objects.get(pk=incident.pk)
        assert stored.status == results[0]
        assert stored.version == 2
        assert (
            TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.STATUS).count()
            == 1
        )
