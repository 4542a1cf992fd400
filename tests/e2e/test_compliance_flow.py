"""Compliance staff record an incident's regulatory facts, see the GDPR Art. 33 deadline with
what the notification still lacks, mark it submitted, and find it on the overview."""

import re

from playwright.sync_api import expect

from tests.incidents.factories import declare


def test_compliance_records_a_breach_and_submits_the_gdpr_notice(demo, sign_in, page, screenshot):
    responder = demo.users["responder@acme.test"]
    incident = declare(demo.orgs["acme"], responder, title="Customer export sent to wrong bucket")

    sign_in("compliance@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.get_by_role("link", name="Compliance", exact=True).click()
    expect(page.get_by_role("heading", name="Regulatory obligations")).to_be_visible()
    expect(page.get_by_text("No open obligations.")).to_be_visible()

    page.goto(f"/o/acme/compliance/incidents/{incident.key}/")
    page.get_by_label("Personal-data breach").check()
    page.get_by_label("Data subjects affected (approx.)").fill("1850")
    page.get_by_role("button", name="Save facts").click()

    expect(page.get_by_text("Regulatory facts saved; obligations re-evaluated.")).to_be_visible()
    card = page.get_by_test_id("obligation")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Notify the supervisory authority")
    expect(card.get_by_test_id("time-left")).to_contain_text(re.compile(r"\d+ h"))
    expect(card.get_by_test_id("missing")).to_contain_text("Categories of personal data")
    screenshot("compliance-incident-obligations")

    card.get_by_text("Mark submitted…").click()
    card.get_by_label("Reference").fill("DPA-2026-0117")
    card.get_by_role("button", name="Mark submitted").click()
    expect(page.get_by_text("Notify the supervisory authority: marked submitted.")).to_be_visible()
    expect(page.get_by_test_id("obligation")).to_contain_text("Submitted")

    page.get_by_role("link", name="Obligations").click()
    page.get_by_label("State").select_option("submitted")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("cell", name=re.compile(incident.key))).to_be_visible()
    screenshot("compliance-overview")
