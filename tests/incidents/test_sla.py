"""SLA timers: started, met, stopped and re-computed by the lifecycle; business-hours
arithmetic across weekends, holidays and DST; the sweeper marks each breach once."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from incidents import sla
from incidents.business_time import Calendar, add_business_time, business_time_between
from incidents.models import BusinessCalendar, Holiday, SlaPolicy, SlaTimer, TimelineEvent
from tenancy.scoping import org_scope
from tests.incidents.factories import bring_to, declare, document, severity, transition

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def timers(incident):
    with scopes_disabled():
        return {(t.phase, t.period_number): t for t in SlaTimer.objects.filter(incident=incident)}


def sev1(acme):
    return severity(acme, "SEV-1")


# — business hours (pure) ——————————————————————————————————————————————————————————————

BERLIN = Calendar(timezone="Europe/Berlin", holidays=frozenset({dt.date(2026, 12, 25)}))


def test_business_time_skips_the_night():
    start = dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tue 16:00 Berlin
    assert add_business_time(start, dt.timedelta(hours=2), BERLIN) == dt.datetime(
        2026, 11, 25, 9, 0, tzinfo=UTC
    )  # 1 h on Tuesday, 1 h from 09:00 Wednesday (= 08:00 UTC) → 10:00 Berlin


def test_business_time_skips_a_weekend():
    start = dt.datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # Fri 16:30 Berlin
    assert add_business_time(start, dt.timedelta(hours=1), BERLIN) == dt.datetime(
        2026, 11, 30, 8, 30, tzinfo=UTC
    )  # 30 min Friday, 30 min Monday → 09:30 Berlin


def test_business_time_skips_a_holiday_and_the_weekend_after():
    start = dt.datetime(2026, 12, 24, 15, 0, tzinfo=UTC)  # Thu 16:00 Berlin, Fri is a holiday
    assert add_business_time(start, dt.timedelta(hours=4), BERLIN) == dt.datetime(
        2026, 12, 28, 11, 0, tzinfo=UTC
    )


def test_business_time_across_the_spring_dst_change():
    start = dt.datetime(2026, 3, 27, 15, 0, tzinfo=UTC)  # Fri 16:00 CET; clocks go forward Sunday
    assert add_business_time(start, dt.timedelta(hours=2), BERLIN) == dt.datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )  # Monday 10:00 CEST is 08:00 UTC, not 09:00


def test_business_time_across_the_autumn_dst_change():
    start = dt.datetime(2026, 10, 23, 14, 0, tzinfo=UTC)  # Fri 16:00 CEST; back one hour Sunday
    assert add_business_time(start, dt.timedelta(hours=2), BERLIN) == dt.datetime(
        2026, 10, 26, 9, 0, tzinfo=UTC
    )  # Monday 10:00 CET is 09:00 UTC


def test_business_time_between_counts_only_working_hours():
    friday = dt.datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 16:00 Berlin
    monday = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 Berlin
    assert business_time_between(friday, monday, BERLIN) == dt.timedelta(hours=2)


def test_a_calendar_without_working_days_refuses_instead_of_looping():
    never = Calendar(working_days=())
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.timedelta(minutes=1), never)


# — timers and the lifecycle ———————————————————————————————————————————————————————————


def test_declaring_starts_three_timers_from_the_severitys_policy(acme, responder):
    incident = declare(acme, responder, severity=sev1(acme))
    started = timers(incident)
    assert set(started) == {("acknowledge", 1), ("mitigate", 1), ("resolve", 1)}
    ack = started[("acknowledge", 1)]
    assert ack.target_minutes == 5
    assert ack.due_at - ack.started_at == dt.timedelta(minutes=5)
    assert ack.warn_at - ack.started_at == dt.timedelta(minutes=4)


def test_business_hours_policies_count_only_working_time(acme, responder):
    with scopes_disabled():
        calendar = BusinessCalendar.objects.get(organization=acme)
        Holiday.objects.create(
            organization=acme, calendar=calendar, date=dt.date(2026, 12, 25), name="Christmas"
        )
    incident = declare(acme, responder)  # SEV-3: business hours, acknowledge in 60 min
    with scopes_disabled():
        SlaTimer.objects.filter(incident=incident).update(
            started_at=dt.datetime(2026, 12, 24, 15, 30, tzinfo=UTC)  # Thu 16:30 Berlin
        )
        timer = SlaTimer.objects.get(incident=incident, phase="acknowledge")
    with org_scope(acme):
        sla._schedule(timer, timer.policy, sla.calendar_for(acme.pk))
    assert timer.clock == SlaPolicy.Clock.BUSINESS
    assert timer.due_at == dt.datetime(2026, 12, 28, 8, 30, tzinfo=UTC)  # Mon 09:30 Berlin


def test_starting_investigation_meets_the_acknowledge_timer_only(acme, responder):
    incident = document(declare(acme, responder), responder)
    bring_to(incident, "investigating", responder)
    state = timers(incident)
    assert state[("acknowledge", 1)].met_at is not None
    assert state[("mitigate", 1)].met_at is None
    assert state[("resolve", 1)].met_at is None


def test_resolving_meets_every_phase(acme, responder):
    incident = document(declare(acme, responder), responder)
    bring_to(incident, "resolved", responder)
    assert all(t.met_at is not None for t in timers(incident).values())


def test_dismissing_stops_the_clocks_without_meeting_them(acme, responder):
    incident = declare(acme, responder)
    transition(incident, "dismiss", responder)
    assert all(t.stopped_at and not t.met_at for t in timers(incident).values())


def test_a_reopen_starts_fresh_timers_and_leaves_the_old_ones(acme, responder):
    incident = document(declare(acme, responder), responder)
    incident = bring_to(incident, "resolved", responder)
    before = {key: (t.met_at, t.due_at) for key, t in timers(incident).items()}
    transition(incident, "reopen", responder)
    after = timers(incident)
    assert set(after) == set(before) | {("mitigate", 2), ("resolve", 2)}
    for key, values in before.items():
        assert (after[key].met_at, after[key].due_at) == values
    assert after[("mitigate", 2)].is_running


def test_a_severity_change_recomputes_running_timers_and_says_so(acme, responder):
    incident = declare(acme, responder)  # SEV-3
    from incidents import services

    with org_scope(acme):
        services.incident_change_severity(
            incident=incident, actor=responder, severity=sev1(acme), reason="Outage spread"
        )
    ack = timers(incident)[("acknowledge", 1)]
    assert ack.target_minutes == 5
    assert ack.due_at == ack.started_at + dt.timedelta(minutes=5)
    with scopes_disabled():
        message = TimelineEvent.objects.filter(incident=incident, kind="sla").latest("pk").message
    assert message.startswith("SLA re-computed for SEV-1: acknowledge by ")


def test_pause_moves_the_due_time_by_the_pause_and_needs_a_reason(acme, responder):
    from django.core.exceptions import ValidationError

    incident = declare(acme, responder, severity=sev1(acme))
    timer = timers(incident)[("resolve", 1)]
    due = timer.due_at
    paused_at = timer.started_at + dt.timedelta(minutes=10)
    with org_scope(acme):
        with pytest.raises(ValidationError):
            sla.pause(timer, actor=responder, reason=" ", now=paused_at)
        sla.pause(timer, actor=responder, reason="Waiting on the card processor", now=paused_at)
        sla.resume(timer, actor=responder, now=paused_at + dt.timedelta(minutes=25))
    timer.refresh_from_db()
    assert timer.due_at == due + dt.timedelta(minutes=25)
    assert timer.paused_for == dt.timedelta(minutes=25)


def test_a_transition_resumes_a_paused_clock_before_meeting_it(acme, responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"), commander=responder)
    timer = timers(incident)[("acknowledge", 1)]
    with org_scope(acme):
        sla.pause(timer, actor=responder, reason="Waiting", now=timer.started_at)
    transition(incident, "start_investigation", responder)
    timer.refresh_from_db()
    assert timer.paused_at is None
    assert timer.met_at is not None


# — the sweeper ————————————————————————————————————————————————————————————————————————


def test_the_sweeper_marks_a_due_timer_breached_once(acme, responder):
    incident = declare(acme, responder, severity=sev1(acme))
    ack = timers(incident)[("acknowledge", 1)]
    later = ack.due_at + dt.timedelta(seconds=1)
    first = sla.sweep_due(now=later)
    second = sla.sweep_due(now=later + dt.timedelta(seconds=5))
    assert first["breached"] == 1
    assert second["breached"] == 0
    ack.refresh_from_db()
    assert ack.breached_at == later
    with scopes_disabled():
        breaches = TimelineEvent.objects.filter(incident=incident, kind="sla", data__timer=ack.pk)
        assert breaches.count() == 1


def test_a_met_or_paused_timer_is_never_breached(acme, responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"), commander=responder)
    transition(incident, "start_investigation", responder)
    mitigate = timers(incident)[("mitigate", 1)]
    with org_scope(acme):
        sla.pause(mitigate, actor=responder, reason="Vendor", now=mitigate.started_at)
    sla.sweep_due(now=mitigate.due_at + dt.timedelta(hours=1))
    state = timers(incident)
    assert state[("acknowledge", 1)].breached_at is None
    assert state[("mitigate", 1)].breached_at is None


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_breach_each_timer_once(acme, responder):
    for n in range(20):
        declare(acme, responder, title=f"Outage {n}", severity=sev1(acme))
    with scopes_disabled():
        latest = max(t.due_at for t in SlaTimer.objects.filter(phase="acknowledge"))
    later = latest + dt.timedelta(seconds=1)
    barrier = threading.Barrier(2)
    results = []

    def sweeper():
        barrier.wait()
        try:
            results.append(sla.sweep_due(now=later)["breached"])
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 20
    with scopes_disabled():
        assert SlaTimer.objects.filter(phase="acknowledge", breached_at__isnull=False).count() == 20
        assert TimelineEvent.objects.filter(kind="sla").count() == 20


# — pages ——————————————————————————————————————————————————————————————————————————————


def test_detail_shows_each_clock_and_pause_needs_a_reason(acme, responder, login):
    from django.urls import reverse

    incident = declare(acme, responder, severity=sev1(acme))
    client = login(responder)
    page = client.get(reverse("incidents:incident_detail", args=["acme", incident.key]))
    assert b'data-phase="acknowledge"' in page.content
    assert b"min left" in page.content
    ack = timers(incident)[("acknowledge", 1)]
    url = reverse("incidents:sla_pause", args=["acme", incident.key, ack.pk])
    refused = client.post(url, {"reason": ""}, follow=True)
    assert b"Say what the incident is waiting for." in refused.content
    client.post(url, {"reason": "Waiting on the processor"})
    ack.refresh_from_db()
    assert ack.paused_at is not None
    assert ack.pause_reason == "Waiting on the processor"


def test_viewers_cannot_pause_a_clock(acme, responder, viewer, login):
    from django.urls import reverse

    incident = declare(acme, responder, severity=sev1(acme))
    ack = timers(incident)[("acknowledge", 1)]
    url = reverse("incidents:sla_pause", args=["acme", incident.key, ack.pk])
    assert login(viewer).post(url, {"reason": "x"}).status_code == 403
    ack.refresh_from_db()
    assert ack.paused_at is None


def test_the_list_filters_breached_and_due_soon(acme, responder, login):
    from django.urls import reverse

    soon = declare(acme, responder, title="Due soon", severity=sev1(acme))
    late = declare(acme, responder, title="Long breached", severity=sev1(acme))
    calm = declare(acme, responder, title="Calm one")  # SEV-3, business hours
    with scopes_disabled():
        SlaTimer.objects.filter(incident=late, phase="acknowledge").update(
            due_at=dt.datetime(2000, 1, 1, tzinfo=UTC)
        )
    sla.sweep_due(now=dt.datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC))
    with scopes_disabled():
        SlaTimer.objects.filter(incident=calm).update(
            due_at=dt.datetime(2999, 1, 1, tzinfo=UTC), warn_at=None
        )
    client = login(responder)
    url = reverse("incidents:incident_list", args=["acme"])
    breached = client.get(url, {"sla": "breached"}).content.decode()
    assert "Long breached" in breached
    assert "Due soon" not in breached
    due = client.get(url, {"sla": "breaching"}).content.decode()
    assert "Due soon" in due
    assert "Calm one" not in due
    assert soon.key in due


def test_sla_policy_page_is_readable_by_members_and_editable_by_admins(
    acme, responder, acme_admin, login
):
    from django.urls import reverse

    listing = reverse("incidents:sla_policy_list", args=["acme"])
    page = login(responder).get(listing)
    assert page.status_code == 200
    assert b"SEV-1" in page.content
    with scopes_disabled():
        policy = SlaPolicy.objects.get(organization=acme, severity__level=1)
    edit = reverse("incidents:sla_policy_update", args=["acme", policy.pk])
    assert login(responder).get(edit).status_code == 403
    client = login(acme_admin.user)
    bad = client.post(
        edit,
        {
            "severity": policy.severity_id,
            "acknowledge_minutes": 50,
            "mitigate_minutes": 30,
            "resolve_minutes": 240,
            "clock": "wall",
            "warn_at_percent": 80,
        },
    )
    assert b"acknowledge \xe2\x89\xa4 mitigate \xe2\x89\xa4 resolve" in bad.content
    good = client.post(
        edit,
        {
            "severity": policy.severity_id,
            "acknowledge_minutes": 10,
            "mitigate_minutes": 30,
            "resolve_minutes": 240,
            "clock": "wall",
            "warn_at_percent": 80,
        },
    )
    assert good.status_code == 302
    policy.refresh_from_db()
    assert policy.acknowledge_minutes == 10


def test_business_hours_form_refuses_an_inverted_day(acme, acme_admin, login):
    from django.urls import reverse

    response = login(acme_admin.user).post(
        reverse("incidents:sla_calendar_save", args=["acme"]),
        {
            "timezone": "Europe/Berlin",
            "working_days": [1, 2],
            "day_start": "17:00",
            "day_end": "09:00",
        },
    )
    assert b"The working day must end after it starts." in response.content


# — escalation ———————————————————————————————————————————————————————————————————————————


@pytest.fixture
def sev1_path(acme, other_responder, manager):
    """SEV-1 path: Oscar at once, every manager after 10 minutes."""
    from taxonomy.models import EscalationPath, EscalationStep

    with scopes_disabled():
        path = EscalationPath.objects.create(organization=acme, name="SEV-1", severity=sev1(acme))
        EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=1,
            delay_minutes=0,
            target_kind="user",
            user=other_responder,
        )
        EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=2,
            delay_minutes=10,
            target_kind="role",
            role="manager",
        )
    return path


def runs(incident):
    from incidents.models import EscalationRun

    with scopes_disabled():
        return list(EscalationRun.objects.filter(incident=incident).order_by("due_at", "pk"))


def inbox(user, incident):
    from incidents.models import Notification

    with scopes_disabled():
        return list(
            Notification.objects.filter(recipient=user, incident=incident).values_list(
                "kind", flat=True
            )
        )


def test_a_new_sev1_walks_its_path_step_by_step(
    acme, responder, other_responder, manager, sev1_path
):
    incident = declare(acme, responder, severity=sev1(acme))
    first, second = runs(incident)
    assert first.trigger == second.trigger == "new"
    counts = sla.sweep_due(now=first.due_at + dt.timedelta(seconds=1))
    assert counts["escalated"] == 1
    assert inbox(other_responder, incident) == ["escalation"]
    assert inbox(manager, incident) == []
    sla.sweep_due(now=second.due_at + dt.timedelta(seconds=1))
    assert inbox(manager, incident) == ["escalation"]
    fired = [run for run in runs(incident) if run.trigger == "new"]
    assert all(run.fired_at for run in fired)
    assert fired[0].notified[0]["user"] == other_responder.pk
    assert "inbox" in fired[0].notified[0]["channels"]


def test_acknowledging_stops_the_remaining_steps(acme, responder, manager, sev1_path):
    incident = declare(acme, responder, severity=sev1(acme), commander=responder)
    first, second = runs(incident)
    sla.sweep_due(now=first.due_at + dt.timedelta(seconds=1))
    transition(incident, "start_investigation", responder)
    sla.sweep_due(now=second.due_at + dt.timedelta(minutes=1))
    assert inbox(manager, incident) == []
    assert runs(incident)[1].cancelled_at is not None


def test_a_breach_walks_the_path_again_for_that_breach(acme, responder, other_responder, sev1_path):
    incident = declare(acme, responder, severity=sev1(acme), commander=responder)
    transition(incident, "start_investigation", responder)  # cancels the new-incident walk
    mitigate = timers(incident)[("mitigate", 1)]
    sla.sweep_due(now=mitigate.due_at + dt.timedelta(seconds=1))  # breach: schedules steps
    sla.sweep_due(now=mitigate.due_at + dt.timedelta(seconds=2))  # step 1 due at once
    breach_runs = [r for r in runs(incident) if r.trigger == f"breach:{mitigate.pk}"]
    assert len(breach_runs) == 2
    assert breach_runs[0].fired_at is not None
    assert inbox(other_responder, incident).count("escalation") == 1


def test_a_sev3_never_pages_the_sev1_path(acme, responder, sev1_path):
    incident = declare(acme, responder)  # SEV-3
    assert runs(incident) == []
    with org_scope(acme):
        assert sla.path_for(incident) is None


def test_a_warning_reaches_the_watchers_once(acme, responder):
    incident = declare(acme, responder, severity=sev1(acme))
    ack = timers(incident)[("acknowledge", 1)]
    sla.sweep_due(now=ack.warn_at + dt.timedelta(seconds=1))
    sla.sweep_due(now=ack.warn_at + dt.timedelta(seconds=2))
    assert inbox(responder, incident) == ["sla_warning"]
    ack.refresh_from_db()
    assert ack.warned_at is not None
    assert ack.breached_at is None


def test_dismissing_cancels_the_walk(acme, responder, other_responder, sev1_path):
    incident = declare(acme, responder, severity=sev1(acme))
    transition(incident, "dismiss", responder)
    sla.sweep_due(now=timezone_now() + dt.timedelta(hours=1))
    assert inbox(other_responder, incident) == []
    assert all(run.cancelled_at for run in runs(incident))


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def test_chat_webhooks_hear_about_declarations_and_status_changes(acme, responder):
    from incidents.models import ChatWebhook, Delivery

    with scopes_disabled():
        ChatWebhook.objects.create(
            organization=acme,
            name="#incidents",
            url="https://chat.example.test/hook",
            min_severity_level=3,
        )
    incident = declare(acme, responder)  # SEV-3
    declare(acme, responder, title="Cosmetic", severity=severity(acme, "SEV-4"))
    transition(incident, "dismiss", responder)
    with scopes_disabled():
        texts = [d.payload["text"] for d in Delivery.objects.filter(channel="chat")]
    assert sorted(texts) == sorted(
        [
            f"Declared {incident.key} · SEV-3 · Checkout fails",
            f"{incident.key} is now dismissed (Rita)",
        ]
    ), "one message each, and none for the SEV-4 below the webhook's threshold"
