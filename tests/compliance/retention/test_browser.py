"""Compliance staff set a retention policy, place a legal hold, preview and run the purge,
in the browser; screenshots of the overview and the preview."""

import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from compliance.retention.models import PurgeReceipt
from tests.compliance.retention.factories import (
    alert_source,
    closed_incident,
    payload,
    switch_off_frameworks,
)

pytestmark = pytest.mark.browser


def test_compliance_sets_a_policy_holds_an_incident_and_purges(demo, sign_in, page, screenshot):
    acme = demo.orgs["acme"]
    switch_off_frameworks(acme)
    carla = demo.users["compliance@acme.test"]
    held = closed_incident(acme, demo.users["admin@acme.test"], closed_days_ago=400)
    closed_incident(acme, demo.users["admin@acme.test"], closed_days_ago=500, title="Old one")
    source = alert_source(acme)
    for n in range(4):
        payload(source, received_days_ago=100 + n)

    sign_in(carla.email)
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.goto("/o/acme/compliance/retention/")
    expect(page.get_by_role("heading", name="Retention and legal holds")).to_be_visible()

    page.get_by_role("link", name="Set a policy for incidents", exact=True).click()
    page.get_by_label("Years").fill("1")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("kept 1 year (")).to_be_visible()
    page.get_by_role("link", name="Set a policy for alerts and raw payloads").click()
    page.get_by_label("Days").fill("90")
    page.get_by_role("button", name="Save policy").click()

    page.get_by_role("link", name="New legal hold").first.click()
    page.get_by_label("Matter").fill("Smith v. Acme")
    page.get_by_label("Custodian").select_option(label=f"{carla.full_name} ({carla.email})")
    page.get_by_label("Incidents", exact=True).fill(held.key)
    page.get_by_role("button", name="Place the hold").click()
    expect(page.get_by_text("Legal hold “Smith v. Acme” is in force.")).to_be_visible()

    page.get_by_label("Record type").select_option("alerts")
    page.get_by_label("Days").fill("30")
    page.get_by_role("button", name="Calculate").click()
    expect(page.locator("#what-if-result")).to_contain_text("remove 4 rows")
    screenshot("retention-overview")

    page.get_by_role("link", name="Preview the next purge").click()
    expect(page.get_by_text("1 by “Smith v. Acme”")).to_be_visible()
    screenshot("retention-preview")
    page.get_by_role("link", name="Run purge now…").click()
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Run purge").click()
    expect(page.get_by_text("Purge done: 5 records in 2 receipts.")).to_be_visible()
    screenshot("retention-receipts")
    with scopes_disabled():
        assert sorted(PurgeReceipt.objects.values_list("record_type", "count")) == [
            ("alerts", 4),
            ("incidents", 1),
        ]


def test_a_policy_below_the_sox_minimum_is_refused_in_the_browser(demo, sign_in, page, screenshot):
    sign_in("compliance@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.goto("/o/acme/compliance/retention/")
    page.get_by_role("link", name="Set a policy for audit entries").click()
    expect(page.get_by_text("must be kept at least 7 years")).to_be_visible()
    page.get_by_label("Years").fill("5")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 7 years while SOX is enabled")
    screenshot("retention-policy-refused")
    page.get_by_role("link", name="Retention", exact=True).click()
    page.get_by_role("link", name="New legal hold").first.click()
    page.get_by_role("button", name="Place the hold").click()
    expect(page.get_by_text("This field is required.").first).to_be_visible()
    screenshot("retention-hold-form-errors")
