# ruff: noqa: F811 — the browser fixtures are imported from tests/e2e/conftest.py
"""In the browser: a responder drafts from a template, a spokesperson approves and
publishes, and an anonymous visitor sees the message on the public status page.
Screenshots go to /tmp/shots/status-*.png for people to look at."""

import re
from pathlib import Path

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from incidents.statuspage.models import (
    Component,
    MessageTemplate,
    PublicStatus,
    Spokesperson,
    StatusPageSettings,
)
from tests.e2e.conftest import (  # noqa: F401 — fixtures shared with the browser tests
    base_url,
    browser_type_launch_args,
    demo,
    fill_login_form,
    sign_in,
)
from tests.factories import PASSWORD
from tests.incidents.factories import declare

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")  # noqa: S108 — a fixed place to look at, outside the repository


@pytest.fixture
def shot(page: Page):
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        page.screenshot(path=SHOTS / f"status-{name}.png", full_page=True)

    return take


def test_draft_approve_publish_and_read_it_on_the_public_page(
    demo,
    sign_in,
    page,
    shot,
    browser,  # noqa: F811 — shared fixtures
):
    acme = demo.orgs["acme"]
    with scopes_disabled():
        StatusPageSettings.objects.create(
            organization=acme,
            is_public=True,
            title="Acme Payments status",
            introduction="Live status of Acme's payment services.",
        )
        Spokesperson.objects.create(organization=acme, user=demo.users["manager@acme.test"])
        for order, name in enumerate(["Card payments", "Checkout", "Merchant dashboard"]):
            Component.objects.create(organization=acme, name=name, order=order)
        MessageTemplate.objects.create(
            organization=acme,
            name="Investigating",
            status=PublicStatus.INVESTIGATING,
            title="{components}: we are investigating",
            body="We are investigating problems with {components}. Status: {status}.",
        )
    incident = declare(acme, demo.users["responder@acme.test"], title="Processor timeouts")

    sign_in("responder@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    page.goto(f"/o/acme/status-page/messages/new/?incident={incident.key}")
    page.get_by_label("Start from a pre-approved template").select_option(label="Investigating")
    page.get_by_role("button", name="Use").click()
    page.get_by_label("Card payments").select_option(label="Partial outage")
    page.get_by_label("Checkout").select_option(label="Degraded performance")
    shot("draft-form")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_test_id("message-state")).to_have_text("Draft")
    expect(
        page.get_by_role("heading", name="Card payments and Checkout: we are investigating")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_be_disabled()
    shot("detail-draft")

    context = browser.new_context(base_url=page.url.split("/o/")[0])
    manager = context.new_page()
    manager.goto("/accounts/login/")
    manager.get_by_label("E-mail address").fill("manager@acme.test")
    manager.get_by_label("Password").fill(PASSWORD)
    manager.get_by_role("button", name="Sign in").click()
    expect(manager).to_have_url(re.compile(r"/o/acme/$"))
    manager.goto(page.url)
    manager.get_by_role("button", name="Approve").click()
    expect(manager.get_by_test_id("message-state")).to_have_text("Approved")
    manager.get_by_role("button", name="Publish now").click()
    expect(manager.get_by_test_id("message-state")).to_have_text("Published")
    manager.screenshot(path=SHOTS / "status-detail-published.png", full_page=True)
    manager.goto("/o/acme/status-page/")
    manager.screenshot(path=SHOTS / "status-message-list.png", full_page=True)
    context.close()

    page.goto(f"/o/acme/incidents/{incident.key}/")
    shot("incident-page")

    visitor = browser.new_context(base_url=page.url.split("/o/")[0]).new_page()
    visitor.goto("/status/acme/")
    expect(visitor.get_by_test_id("overall")).to_have_text("Partial outage")
    expect(
        visitor.get_by_role("heading", name="Card payments and Checkout: we are investigating")
    ).to_be_visible()
    expect(visitor.get_by_text(incident.key)).to_have_count(0)
    visitor.screenshot(path=SHOTS / "status-public.png", full_page=True)
    visitor.set_viewport_size({"width": 390, "height": 844})
    visitor.screenshot(path=SHOTS / "status-public-phone.png", full_page=True)
    visitor.set_viewport_size({"width": 1280, "height": 800})
    visitor.get_by_label("E-mail address").fill("someone@example.org")
    visitor.get_by_role("button", name="Subscribe").click()
    expect(visitor.get_by_role("heading", name="Check your inbox")).to_be_visible()
    visitor.screenshot(path=SHOTS / "status-subscribed.png", full_page=True)


def test_admin_pages_look_right(demo, sign_in, page, shot):  # noqa: F811 — shared fixtures
    acme = demo.orgs["acme"]
    with scopes_disabled():
        StatusPageSettings.objects.create(organization=acme, is_public=True, title="Acme")
        Spokesperson.objects.create(organization=acme, user=demo.users["manager@acme.test"])
        Component.objects.create(organization=acme, name="Card payments", description="API")
        MessageTemplate.objects.create(
            organization=acme, name="Resolved", title="{components}: resolved", body="Fixed."
        )
    sign_in("admin@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    for name in ["components", "templates", "spokespersons", "settings"]:
        page.goto(f"/o/acme/status-page/{name}/")
        expect(page.get_by_role("heading", name="External communications")).to_be_visible()
        shot(name)
    page.goto("/o/acme/status-page/templates/new/")
    page.get_by_label("Name").fill("Leaky")
    page.get_by_label("Title").fill("{incident_key} is down")
    page.get_by_label("Body").fill("Hello")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Unknown placeholder {incident_key}")).to_be_visible()
    shot("template-error")
    page.goto("/o/acme/status-page/")
    shot("empty-list")
