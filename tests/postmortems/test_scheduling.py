"""Scheduling the review: created on resolve (idempotent), the 48-hour due time, invitations,
the reminder before the due time and the escalation when overdue — each exactly once, with a
controlled clock, and once under concurrent sweeps."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled

from incidents.coordination import role_assign
from incidents.lifecycle import Status
from postmortems import scheduling
from postmortems.models import PostMortem, PostMortemPolicy
from postmortems.tasks import sweep_postmortems_task
from tenancy.scoping import org_scope
from tests.incidents.factories import bring_to, fresh, pass_verification, transition
from tests.postmortems import test_policy_support as support
from tests.postmortems.test_policy_support import (
    fresh_pm,
    incident_timeline,
    major,
    postmortem_of,
    resolved,
    sent,
)

# Fixtures shared by the post-mortem core tests.
mona = support.mona
oscar = support.oscar
rita = support.rita


@pytest.mark.django_db
def test_resolving_an_incident_that_needs_one_creates_it_due_48_hours_later(acme, rita, oscar):
    incident = major(acme, rita, title="Card payments fail")
    with org_scope(acme):
        role_assign(incident=incident, actor=rita, role="scribe", user=oscar)
    incident = bring_to(fresh(incident), Status.RESOLVED, rita)

    postmortem = postmortem_of(incident)
    assert postmortem.status == PostMortem.Status.DRAFT
    assert postmortem.owner == rita
    assert postmortem.title == "Card payments fail"
    assert postmortem.review_due_at == incident.resolved_at + timedelta(hours=48)
    texts = [row["text"] for row in postmortem.timeline]
    assert texts[0] == "Declared SEV-2: Card payments fail"
    assert all(row["source"] == "incident" for row in postmortem.timeline)
    assert [row["at"] for row in postmortem.timeline] == sorted(
        row["at"] for row in postmortem.timeline
    )
    assert sent("postmortem_invite") == ["oscar@acme.test", "rita@acme.test"]
    assert incident_timeline(incident)[-1].startswith("Post-mortem started; owner Rita Ramos")


@pytest.mark.django_db
def test_the_due_time_follows_the_policy_and_the_owner_falls_back_to_the_reporter(acme, rita):
    PostMortemPolicy.objects.create(organization=acme, max_severity_level=3, review_due_hours=24)
    incident = resolved(acme, rita, level="SEV-3", commander=None)

    postmortem = postmortem_of(incident)
    assert postmortem.owner == rita  # the reporter: nobody commanded
    assert postmortem.review_due_at == incident.resolved_at + timedelta(hours=24)


@pytest.mark.django_db
def test_scheduling_is_idempotent_and_a_second_resolve_keeps_the_post_mortem(acme, rita):
    incident = resolved(acme, rita)
    first = postmortem_of(incident)
    with org_scope(acme):
        again = scheduling.schedule(fresh(incident))
    incident = transition(fresh(incident), "reopen", rita)
    pass_verification(incident, rita)
    incident = transition(fresh(incident), "resolve", rita)

    assert again.pk == first.pk
    with scopes_disabled():
        assert PostMortem.objects.filter(incident=incident).count() == 1
    assert len(sent("postmortem_invite")) == 1


@pytest.mark.django_db
def test_no_post_mortem_is_created_for_an_incident_that_needs_none(acme, rita):
    incident = resolved(acme, rita, level="SEV-3")

    assert postmortem_of(incident) is None


@pytest.mark.django_db
def test_the_reminder_comes_12_hours_before_and_only_once(acme, rita):
    postmortem = postmortem_of(resolved(acme, rita))
    due = postmortem.review_due_at

    assert scheduling.sweep(now=due - timedelta(hours=13)) == {"escalated": 0, "reminded": 0}
    assert scheduling.sweep(now=due - timedelta(hours=11)) == {"escalated": 0, "reminded": 1}
    assert scheduling.sweep(now=due - timedelta(hours=10)) == {"escalated": 0, "reminded": 0}

    assert sent("postmortem_reminder") == ["rita@acme.test"]
    assert fresh_pm(postmortem).reminded_at == due - timedelta(hours=11)


@pytest.mark.django_db
def test_an_overdue_review_is_escalated_to_the_managers_once(acme, rita, mona, acme_admin):
    PostMortemPolicy.objects.create(organization=acme, escalate_after_hours=2)
    postmortem = postmortem_of(resolved(acme, rita))
    due = postmortem.review_due_at

    assert scheduling.sweep(now=due + timedelta(hours=1))["escalated"] == 0
    assert scheduling.sweep(now=due + timedelta(hours=2))["escalated"] == 1
    assert scheduling.sweep(now=due + timedelta(hours=30))["escalated"] == 0

    assert sent("postmortem_overdue") == ["admin@acme.test", "mona@acme.test"]
    assert incident_timeline(postmortem.incident)[-1].startswith("Post-mortem review overdue")


@pytest.mark.django_db
def test_a_sweeper_that_was_down_escalates_without_a_stale_reminder(acme, rita, mona):
    postmortem = postmortem_of(resolved(acme, rita))

    counts = scheduling.sweep(now=postmortem.review_due_at + timedelta(hours=5))

    assert counts == {"escalated": 1, "reminded": 0}
    assert sent("postmortem_reminder") == []
    assert sent("postmortem_overdue") == ["mona@acme.test"]


@pytest.mark.django_db
def test_a_held_review_is_neither_reminded_nor_escalated(acme, rita, mona):
    postmortem = postmortem_of(resolved(acme, rita))
    with org_scope(acme):
        scheduling.review_held(postmortem=postmortem, actor=rita)

    counts = scheduling.sweep(now=postmortem.review_due_at + timedelta(days=3))

    assert counts == {"escalated": 0, "reminded": 0}
    assert fresh_pm(postmortem).review_held_at is not None
    assert incident_timeline(postmortem.incident)[-1] == "Post-mortem review meeting held"


@pytest.mark.django_db
def test_the_beat_entry_runs_the_sweeper_every_minute(acme, rita, mona):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-postmortems"]
    assert entry == {
        "task": "postmortems.tasks.sweep_postmortems_task",
        "schedule": 60.0,
        "options": {"expires": 120},
    }
    postmortem = postmortem_of(resolved(acme, rita))
    with scopes_disabled():
        PostMortem.objects.filter(pk=postmortem.pk).update(
            review_due_at=postmortem.review_due_at - timedelta(days=3)
        )

    counts = sweep_postmortems_task()

    assert counts["escalated"] == 1
    assert "action_items" in counts


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_escalate_and_notify_once(acme, rita, mona):
    postmortem = postmortem_of(resolved(acme, rita))
    moment = postmortem.review_due_at + timedelta(hours=1)
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
    assert sent("postmortem_overdue") == ["mona@acme.test"]
