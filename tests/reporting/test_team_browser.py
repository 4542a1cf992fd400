"""A responder opens the team view from the navigation, chooses a team and follows a count to
the incident list; a manager reads the root-cause breakdown. Screenshots of both."""

import datetime
import re

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from incidents.lifecycle import Status
from incidents.models import Incident
from postmortems.models import ActionItem
from tenancy.models import Team
from tests.reporting.conftest import make_incident, postmortem

pytestmark = pytest.mark.browser

CAUSES = ["code_change", "config_change", "capacity", "dependency", "", "code_change"]


def _data(demo):
    acme = demo.orgs["acme"]
    admin = demo.users["admin@acme.test"]
    responder = demo.users["responder@acme.test"]
    with scopes_disabled():
        platform = Team.objects.get(organization=acme, name="Platform")
        payments = Team.objects.get(organization=acme, name="Payments")
    now = timezone.now()
    for n in range(12):
        reported = now - datetime.timedelta(days=1 + 5 * n, hours=n)
        resolved = n % 4 != 0
        incident = make_incident(
            acme,
            admin,
            reported=reported,
            acknowledged=reported + datetime.timedelta(minutes=4 + 3 * n),
            resolved=reported + datetime.timedelta(hours=2 + n % 3) if resolved else None,
            status=Status.RESOLVED if resolved else Status.INVESTIGATING,
            sev=("SEV-1", "SEV-2", "SEV-3", "SEV-3")[n % 4],
            owning_team=platform if n % 3 else payments,
            title=f"Checkout latency spike {n}",
        )
        with scopes_disabled():
            Incident.objects.filter(pk=incident.pk).update(
                root_cause_category=CAUSES[n % len(CAUSES)]
            )
        if resolved:
            pm = postmortem(incident, published=reported + datetime.timedelta(days=1))
            with scopes_disabled():
                ActionItem.objects.create(
                    organization=acme,
                    postmortem=pm,
                    title=f"Add a saturation alert ({n})",
                    team=platform,
                    owner=responder,
                    due_date=timezone.localdate() + datetime.timedelta(days=n - 4),
                )


def test_responder_reads_the_team_view(demo, sign_in, page, screenshot):
    _data(demo)

    sign_in("responder@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name=re.compile("^Team: "))).to_be_visible()
    page.get_by_label("Team", exact=True).select_option(label="Platform")
    page.get_by_label("Period", exact=True).select_option(label="Last 90 days")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Team: Platform")).to_be_visible()
    expect(page.get_by_text("Add a saturation alert (1)")).to_be_visible()
    screenshot("reporting-team-view")

    open_section = page.locator(
        "section", has=page.get_by_role("heading", name=re.compile("^Open now"))
    )
    open_section.get_by_role("table").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/incidents/\?.*status=open"))


def test_manager_reads_the_root_cause_breakdown(demo, sign_in, page, screenshot):
    _data(demo)

    sign_in("manager@acme.test")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Root causes").click()
    page.get_by_label("Period", exact=True).select_option(label="Last 90 days")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Per month", exact=False)).to_be_visible()
    screenshot("reporting-root-causes")

    page.get_by_role("link", name=re.compile("^Code change: ")).click()
    expect(page).to_have_url(re.compile(r"root_cause=code_change"))
