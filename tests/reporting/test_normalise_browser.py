"""A manager enters an exposure figure and a feed token in the browser, then reads the
comparison page; screenshots of both (in /tmp/vigil-shots)."""

import datetime
import re

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from incidents.lifecycle import Status
from reporting.exposure import week_of
from reporting.models import ExposureFigure
from taxonomy.models import Service
from tenancy.models import Team
from tests.incidents.factories import ServiceFactory
from tests.reporting.conftest import make_incident

pytestmark = pytest.mark.browser


def test_manager_enters_exposure_and_reads_the_comparison(demo, sign_in, page, screenshot):
    acme = demo.orgs["acme"]
    admin = demo.users["admin@acme.test"]
    with scopes_disabled():
        services = [
            ServiceFactory(organization=acme, name=name, tier=tier)
            for name, tier in (("Payments API", 1), ("Checkout web", 1), ("Ledger", 2))
        ]
        ServiceFactory(organization=acme, name="Wiki", tier=3)
        teams = list(Team.objects.filter(organization=acme).order_by("name"))
    today = timezone.now().astimezone(acme.tzinfo).date()
    now = timezone.now()
    for n in range(9):
        reported = now - datetime.timedelta(days=2 + 3 * n, hours=n)
        make_incident(
            acme,
            admin,
            reported=reported,
            resolved=reported + datetime.timedelta(hours=1 + n % 4),
            status=Status.RESOLVED,
            primary_service=services[n % 3],
            affected=[services[n % 3], services[(n + 1) % 3]] if n % 4 == 0 else [],
            owning_team=teams[n % len(teams)],
        )
    with scopes_disabled():
        for n in range(6):
            ExposureFigure.objects.create(
                organization=acme,
                week=week_of(today) - datetime.timedelta(weeks=n),
                value=1_250_000 + 50_000 * n,
                unit="requests",
            )
        checkout = Service.objects.get(organization=acme, name="Checkout web")

    sign_in("manager@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Exposure figures").click()
    page.get_by_label("Service").select_option(label="Checkout web")
    page.get_by_label("Week").fill((today - datetime.timedelta(days=7)).isoformat())
    page.get_by_label("Value").fill("-3")
    page.get_by_label("Unit").fill("deploys")
    page.get_by_role("button", name="Save figure").click()
    expect(page.get_by_text("greater than or equal to 0")).to_be_visible()
    page.get_by_label("Value").fill("14")
    page.get_by_role("button", name="Save figure").click()
    expect(page.get_by_text("Saved: Checkout web")).to_be_visible()
    page.get_by_role("button", name="Generate token").click()
    expect(page.get_by_text("shown only this once")).to_be_visible()
    screenshot("reporting-exposure")
    with scopes_disabled():
        assert ExposureFigure.objects.filter(service=checkout).count() == 1

    page.get_by_role("link", name="Comparison", exact=True).click()
    expect(page.get_by_role("heading", name="Incidents per service tier")).to_be_visible()
    expect(page.get_by_text("per 1,000 requests")).to_be_visible()
    expect(page.get_by_text("No figure for the weeks of")).to_be_visible()
    screenshot("reporting-comparison")
