"""A hand-built February–March 2026 in acme (Europe/Berlin) for the trends tests, every number
of it worked out by hand in tests/reporting/test_trends*.py.

Weeks (Mondays): 2, 9, 16, 23 Feb each hold one incident on Payments API / Outage (H1–H4:
acknowledged after 10 min, repaired in 1 h). The week of 2 Mar holds W1–W4 (acknowledged after
20 min, repaired in 2 h): W1, W2 list Payments API among their affected services, W3, W4 only
as primary service; W4 is restricted. W5 (17 Mar, primary Payments API, affected Checkout,
acknowledged after 30 min) is unresolved. T (3 Mar) is a test incident and never counts;
globex's X (3 Mar) never shows.

Weekly volume, 2 Feb … 23 Mar: 1 1 1 1 4 0 1 0 (3 in the week of 2 Mar without W4).
"""

import datetime
from types import SimpleNamespace

import pytest
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.models import Incident
from tests.incidents.factories import CategoryFactory, ServiceFactory
from tests.reporting.conftest import berlin, make_incident, minutes

HOUR = datetime.timedelta(hours=1)


def _incident(org, actor, when, *, ack, repair=None, **fields):
    return make_incident(
        org,
        actor,
        reported=when,
        acknowledged=when + minutes(ack),
        resolved=when + repair if repair else None,
        status=Status.RESOLVED if repair else Status.INVESTIGATING,
        **fields,
    )


@pytest.fixture(name="history")
def history_fixture(acme, globex, admin, globex_admin):
    with scopes_disabled():
        s1 = ServiceFactory(organization=acme, name="Payments API")
        s2 = ServiceFactory(organization=acme, name="Checkout")
        c1 = CategoryFactory(organization=acme, name="Outage")
        gs = ServiceFactory(organization=globex, name="Grid")
    common = {"primary_service": s1, "category": c1}
    h = [
        _incident(
            acme, admin, berlin(day, 10, month=2), ack=10, repair=HOUR, affected=[s1], **common
        )
        for day in (2, 9, 16, 23)
    ]
    w1 = _incident(acme, admin, berlin(3, 10), ack=20, repair=2 * HOUR, affected=[s1], **common)
    w2 = _incident(acme, admin, berlin(3, 11), ack=20, repair=2 * HOUR, affected=[s1], **common)
    w3 = _incident(acme, admin, berlin(4, 10), ack=20, repair=2 * HOUR, **common)
    w4 = _incident(
        acme, admin, berlin(4, 11), ack=20, repair=2 * HOUR, is_restricted=True, **common
    )
    w5 = _incident(acme, admin, berlin(17, 10), ack=30, affected=[s2], **common)
    t = _incident(acme, admin, berlin(3, 12), ack=5, repair=HOUR, kind=Incident.Kind.TEST, **common)
    x = _incident(globex, globex_admin.user, berlin(3, 10), ack=1, primary_service=gs)
    return SimpleNamespace(h=h, w1=w1, w2=w2, w3=w3, w4=w4, w5=w5, t=t, x=x, s1=s1, s2=s2, c1=c1)
