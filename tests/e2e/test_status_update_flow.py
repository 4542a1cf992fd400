"""A responder declares a SEV-1, takes command and posts the first status update from a
template, in the browser."""

import datetime as dt
import re

from django_scopes import scopes_disabled
from playwright.sync_api import expect

from incidents.models import Incident, StatusDeadline, StatusUpdate


def test_responder_declares_a_sev1_takes_command_and_posts_the_first_update_from_a_template(
    demo, sign_in, page, screenshot
):
    sign_in("responder@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))

    page.get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Declare incident").first.click()
    page.get_by_label("Title").fill("Card payments fail everywhere")
    page.get_by_label("Customers can see the problem").check()
    page.get_by_label("Share of users affected (%)").fill("40")
    expect(page.get_by_test_id("proposal-text")).to_contain_text("SEV-1")
    page.get_by_role("button", name="Declare incident").click()

    expect(page).to_have_url(re.compile(r"/o/acme/incidents/ACME-1/$"))
    expect(page.locator(".summary-band .sev")).to_have_text("SEV-1")
    banner = page.get_by_test_id("no-commander-banner")
    expect(banner).to_contain_text("SEV-1 without a commander")
    expect(page.locator(".summary-band").get_by_test_id("next-update")).to_contain_text(
        re.compile(r"due in 1\d min")
    )
    screenshot("coord-sev1-no-commander")

    banner.get_by_role("button", name="Take command").click()
    expect(page.get_by_test_id("no-commander-banner")).to_have_count(0)
    expect(page.get_by_test_id("commander")).to_have_text("Remy Responder")
    expect(page.get_by_text("Remy Responder took over as incident commander")).to_be_visible()

    page.locator("#status-updates").get_by_role("link", name="Post a status update").click()
    page.get_by_role("link", name="Investigating").click()
    expect(page.get_by_label("Current status")).to_have_value(
        "We are investigating Card payments fail everywhere (SEV-1)."
    )
    expect(page.get_by_label("More detail")).to_contain_text("Remy Responder leads the response.")
    page.get_by_label("Impact").fill("Every card payment fails; bank transfers work.")
    screenshot("coord-status-update-form")
    page.get_by_role("button", name="Post status update").click()

    expect(page).to_have_url(re.compile(r"/o/acme/incidents/ACME-1/$"))
    expect(page.get_by_test_id("last-update")).to_contain_text(
        "Every card payment fails; bank transfers work."
    )
    expect(page.get_by_test_id("last-update")).to_contain_text("on time")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("We are investigating Card payments fail everywhere (SEV-1).")
    expect(timeline.locator(".event-status_update").first).to_contain_text("Status update")
    next_update = page.locator(".summary-band").get_by_test_id("next-update")
    expect(next_update).to_contain_text(re.compile(r"due in 1\d min"))
    screenshot("coord-sev1-after-first-update")

    with scopes_disabled():
        incident = Incident.objects.get(key="ACME-1")
        update = StatusUpdate.objects.get(incident=incident)
        deadline = StatusDeadline.objects.get(incident=incident, satisfied_at__isnull=True)
    assert incident.commander.email == "responder@acme.test"
    assert update.on_time is True
    assert update.template.name == "Investigating"
    # The form proposed "next update by" one cadence (15 min) after it opened, to the minute.
    assert deadline.due_at == update.next_update_at
    assert dt.timedelta(minutes=13) < deadline.due_at - update.posted_at <= dt.timedelta(minutes=15)
