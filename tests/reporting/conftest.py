"""A hand-built March 2026 in acme (Europe/Berlin) whose KPIs are worked out by hand in the
tests, and a helper that sets an incident's timestamps directly."""

import datetime
import zoneinfo
from types import SimpleNamespace

import pytest
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.models import ImpactPeriod, Incident, SlaTimer, StatusUpdate
from postmortems.models import ActionItem, PostMortem, PostMortemDecision

# The browser test's fixtures: Debian's chromium, the live server, the demo people, screenshots.
from tests.e2e.conftest import (  # noqa: F401
    browser_type_launch_args,
    demo,
    fill_login_form,
    screenshot,
    sign_in,
)
from tests.factories import TeamFactory
from tests.incidents.factories import CategoryFactory, ServiceFactory, declare, severity

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
MARCH = (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))


def berlin(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def minutes(n: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=n)


def make_incident(
    organization,
    actor,
    *,
    reported,
    detected=None,
    acknowledged=None,
    resolved=None,
    periods=None,
    status=Status.INVESTIGATING,
    sev="SEV-3",
    affected=(),
    **fields,
) -> Incident:
    """Declare an incident through the service, then set its timestamps and status directly
    (and its impact periods: [(start, end)], default one from detection to resolution)."""
    incident = declare(organization, actor, severity=severity(organization, sev))
    detected = detected or reported
    with scopes_disabled():
        Incident.objects.filter(pk=incident.pk).update(
            detected_at=detected,
            reported_at=reported,
            acknowledged_at=acknowledged,
            resolved_at=resolved,
            status=status,
            **fields,
        )
        # Only the timers and periods this dataset states.
        SlaTimer.objects.filter(incident=incident).delete()
        ImpactPeriod.objects.filter(incident=incident).delete()
        for number, (start, end) in enumerate(periods or [(detected, resolved)], start=1):
            ImpactPeriod.objects.create(
                organization=organization,
                incident=incident,
                number=number,
                started_at=start,
                ended_at=end,
            )
        incident = Incident.objects.get(pk=incident.pk)
        if affected:
            incident.affected_services.add(*affected)
    return incident


def timer(incident, phase, *, met=None, breached=None, stopped=None, period=1) -> SlaTimer:
    with scopes_disabled():
        start = incident.reported_at
        return SlaTimer.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            phase=phase,
            period_number=period,
            target_minutes=30,
            started_at=start,
            due_at=start + minutes(30),
            met_at=met,
            breached_at=breached,
            stopped_at=stopped,
        )


def status_update(incident, posted, late_seconds) -> StatusUpdate:
    with scopes_disabled():
        return StatusUpdate.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            current_status="Working on it.",
            posted_at=posted,
            late_seconds=late_seconds,
        )


def postmortem(incident, *, required=True, published=None, review_due=None) -> PostMortem | None:
    with scopes_disabled():
        PostMortemDecision.objects.update_or_create(
            incident=incident,
            defaults={"organization_id": incident.organization_id, "required": required},
        )
        PostMortem.objects.filter(incident=incident).delete()
        return PostMortem.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            title=f"Review of {incident.key}",
            status=PostMortem.Status.PUBLISHED if published else PostMortem.Status.DRAFT,
            published_at=published,
            review_due_at=review_due,
        )


def action_item(pm, *, due, status=ActionItem.Status.OPEN, completed=None) -> ActionItem:
    with scopes_disabled():
        return ActionItem.objects.create(
            organization_id=pm.organization_id,
            postmortem=pm,
            title="Add an alert",
            due_date=due,
            status=status,
            completed_at=completed,
        )


@pytest.fixture
def march(acme, globex, admin, globex_admin):
    """Acme's March 2026, every number of it worked out in tests/reporting/test_kpis.py.

    Counted: A, B (reopened), C (reported 00:30 Berlin on 1 March — still 28 February in UTC),
    H. Not in the period: D (00:30 Berlin on 1 April — still 31 March in UTC). Excluded: E
    (dismissed), F (duplicate of A), G (test). Globex's X is in March too and never counts.
    """
    with scopes_disabled():
        s1 = ServiceFactory(organization=acme, name="Payments API")
        s2 = ServiceFactory(organization=acme, name="Checkout <web>")
        c1 = CategoryFactory(organization=acme, name="Outage")
        t1 = TeamFactory(organization=acme, name="Payments")
    a = make_incident(
        acme,
        admin,
        reported=berlin(2, 10),
        detected=berlin(2, 9, 50),
        acknowledged=berlin(2, 10, 5),
        resolved=berlin(2, 11, 50),
        status=Status.CLOSED,
        sev="SEV-2",
        source=Incident.Source.ALERT,
        primary_service=s1,
        affected=[s1],
        category=c1,
        owning_team=t1,
    )
    b = make_incident(
        acme,
        admin,
        reported=berlin(10, 8),
        acknowledged=berlin(10, 8, 15),
        resolved=berlin(11, 13),
        periods=[(berlin(10, 8), berlin(10, 9)), (berlin(11, 12), berlin(11, 12, 30))],
        status=Status.RESOLVED,
        reopen_count=1,
        primary_service=s1,
        affected=[s1, s2],
        category=c1,
    )
    c = make_incident(
        acme,
        admin,
        reported=berlin(1, 0, 30),
        acknowledged=berlin(1, 0, 40),
        source=Incident.Source.ALERT,
        primary_service=s2,
        affected=[s2],
    )
    d = make_incident(
        acme,
        admin,
        reported=berlin(1, 0, 30, month=4),
        acknowledged=berlin(1, 0, 31, month=4),
        sev="SEV-1",
        source=Incident.Source.ALERT,
    )
    e = make_incident(acme, admin, reported=berlin(5, 10), status=Status.DISMISSED)
    f = make_incident(
        acme,
        admin,
        reported=berlin(2, 10, 10),
        acknowledged=berlin(2, 10, 12),
        status=Status.DUPLICATE,
        duplicate_of=a,
    )
    g = make_incident(
        acme,
        admin,
        reported=berlin(15, 9),
        acknowledged=berlin(15, 10),
        resolved=berlin(15, 12),
        status=Status.RESOLVED,
        kind=Incident.Kind.TEST,
    )
    h = make_incident(
        acme,
        admin,
        reported=berlin(20, 10),
        acknowledged=berlin(20, 10, 20),
        resolved=berlin(20, 14),
        status=Status.RESOLVED,
    )
    x = make_incident(
        globex,
        globex_admin.user,
        reported=berlin(12, 10),
        acknowledged=berlin(12, 10, 1),
        resolved=berlin(12, 10, 2),
        status=Status.RESOLVED,
    )

    # SLA timers: acknowledge met twice, breached once (G, excluded); mitigate met once (the
    # April breach is outside); resolve breached then met = breached; a stopped one ignored.
    timer(a, "acknowledge", met=berlin(2, 10, 5))
    timer(a, "resolve", breached=berlin(2, 11), met=berlin(2, 11, 50))
    timer(b, "acknowledge", met=berlin(10, 8, 15))
    timer(b, "mitigate", met=berlin(10, 9))
    timer(b, "mitigate", breached=berlin(1, 0, 10, month=4), period=2)
    timer(c, "mitigate", stopped=berlin(3, 10))
    timer(g, "acknowledge", breached=berlin(15, 9, 45))
    timer(x, "acknowledge", breached=berlin(12, 10, 30))

    # Status updates: 2 of 3 with a cadence on time; one without a cadence; one in April.
    status_update(a, berlin(2, 10, 30), 0)
    status_update(a, berlin(2, 11, 30), 120)
    status_update(a, berlin(2, 11, 40), None)
    status_update(c, berlin(1, 1), 0)
    status_update(d, berlin(1, 1, month=4), 0)
    status_update(g, berlin(15, 9, 30), 600)
    status_update(x, berlin(12, 10, 1), 0)

    # Post-mortems: A on time, B late, H unpublished; G (test) published, no due time.
    pm_a = postmortem(a, published=berlin(3, 10), review_due=berlin(4, 10))
    postmortem(b, published=berlin(15, 10), review_due=berlin(13, 10))
    postmortem(h)
    pm_g = postmortem(g, published=berlin(16, 10))
    pm_x = postmortem(x, published=berlin(13, 10))

    # Action items (A's post-mortem): due 10 March, done 00:30 Berlin on 11 March (still the
    # 10th in UTC) = late; due the 20th, done the 19th = on time; due the 25th, open; won't
    # do; due in April.
    action_item(
        pm_a,
        due=datetime.date(2026, 3, 10),
        status="done",
        completed=berlin(11, 0, 30),
    )
    action_item(pm_a, due=datetime.date(2026, 3, 20), status="done", completed=berlin(19, 9))
    action_item(pm_a, due=datetime.date(2026, 3, 25))
    action_item(pm_a, due=datetime.date(2026, 3, 26), status="wont_do")
    action_item(pm_a, due=datetime.date(2026, 4, 1))
    action_item(pm_g, due=datetime.date(2026, 3, 15), status="done", completed=berlin(14, 9))
    action_item(pm_x, due=datetime.date(2026, 3, 15), status="open")

    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e, f=f, g=g, h=h, x=x, s1=s1, s2=s2, c1=c1, t1=t1)
