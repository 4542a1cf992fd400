"""A manager opens the dashboard in the browser, reads how a KPI is computed and drills down
from a bar to the incident list; screenshots of both."""

import datetime
import re

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from incidents.lifecycle import Status
from incidents.models import Incident
from tests.factories import TeamFactory
from tests.incidents.factories import CategoryFactory, ServiceFactory
from tests.reporting.conftest import make_incident, status_update, timer

pytestmark = pytest.mark.browser


def test_manager_reads_the_dashboard_and_drills_down(demo, sign_in, page, screenshot):
    acme = demo.orgs["acme"]
    admin = demo.users["admin@acme.test"]
    with scopes_disabled():
        services = [
            ServiceFactory(organization=acme, name=name)
            for name in ("Payments API", "Checkout web", "Ledger")
        ]
        category = CategoryFactory(organization=acme, name="Outage")
        team = TeamFactory(organization=acme, name="Core banking")
    now = timezone.now()
    for n in range(9):
        reported = now - datetime.timedelta(days=2 + 2 * n, hours=n)
        incident = make_incident(
            acme,
            admin,
            reported=reported,
            detected=reported - datetime.timedelta(minutes=5),
            acknowledged=reported + datetime.timedelta(minutes=3 + 4 * n),
            resolved=reported + datetime.timedelta(hours=1 + n % 4),
            status=Status.RESOLVED if n % 3 else Status.CLOSED,
            sev=("SEV-1", "SEV-2", "SEV-3", "SEV-3")[n % 4],
            source=Incident.Source.ALERT if n % 2 else Incident.Source.MANUAL,
            primary_service=services[n % 3],
            affected=[services[n % 3]],
            category=category if n % 2 else None,
            owning_team=team if n < 4 else None,
            reopen_count=1 if n == 4 else 0,
        )
        timer(incident, "acknowledge", met=incident.acknowledged_at)
        status_update(incident, reported + datetime.timedelta(minutes=30), 0 if n % 4 else 300)
    make_incident(acme, admin, reported=now - datetime.timedelta(days=3), status="dismissed")

    sign_in("manager@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.get_by_text("1 excluded incident (dismissed")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Mean time to resolve"))
    row.get_by_text("How is this computed").click()
    expect(row.get_by_text("sum of its impact periods")).to_be_visible()
    screenshot("reporting-dashboard")

    bar = page.locator('svg a[aria-label^="SEV-3"]')
    expect(bar).to_have_attribute("aria-label", "SEV-3: 4")
    bar.click()
    expect(page).to_have_url(re.compile(r"/o/acme/incidents/\?"))
    expect(page.locator("table.incidents caption")).to_have_text("Incidents, 4 matching")
    screenshot("reporting-drilldown")
