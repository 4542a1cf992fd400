"""Under the real Content-Security-Policy, key pages load with no violation and htmx still
works (docs/browser-security.md). Chromium reports every refused script, style, eval, frame or
form target as a `securitypolicyviolation` event and a console message; both are collected."""

import re
from pathlib import Path

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from tests.factories import UserFactory
from tests.incidents.factories import declare

SHOTS = Path("/tmp/shots-web")  # noqa: S108 — screenshots for people to look at, not committed
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""
DESCRIPTION = """Card payments fail with **502** from the gateway since the *14:05* deploy.

- Checkout: errors for about 8 % of users
- Refunds: unaffected

Roll back with `kubectl rollout undo deploy/gateway`; runbook: <https://runbooks.example.org/gateway>

<img src=x onerror="document.title='pwned'"> [click me](javascript:document.title='pwned')

Reported by carol@example.org."""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations and console errors; asserts none at the end."""
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if message.type in ("error", "warning") or "Refused" in message.text
            else None
        ),
    )
    page.add_init_script(WATCH_VIOLATIONS)

    def violations():
        return page.evaluate("window.__cspViolations || []")

    page.violations = violations
    yield page
    refused = [text for text in console if "Content Security Policy" in text or "Refused" in text]
    assert refused == []


def test_key_pages_load_without_a_csp_violation_and_htmx_works(demo, sign_in, watched):
    page = watched
    acme = demo.orgs["acme"]
    responder = demo.users["responder@acme.test"]
    incident = declare(acme, responder, title="Checkout errors", description=DESCRIPTION)
    declare(acme, responder, title="Refund queue slow")

    sign_in("responder@acme.test")
    expect(page).to_have_url(re.compile(r"/o/acme/$"))

    # The incident list, filtered.
    page.goto("/o/acme/incidents/?status=reported")
    expect(page.locator("#incident-rows")).to_contain_text("Checkout errors")
    expect(page.locator("#incident-rows")).to_contain_text("Refund queue slow")
    assert page.violations() == []

    # The incident page: Markdown rendered, the payloads inert, then an htmx comment.
    page.goto(f"/o/acme/incidents/{incident.key}/")
    description = page.get_by_test_id("incident-description")
    expect(description.locator("strong", has_text="502")).to_be_visible()
    expect(description.locator("li")).to_have_count(2)
    expect(description.locator("code")).to_have_text("kubectl rollout undo deploy/gateway")
    expect(description.locator("a[href='https://runbooks.example.org/gateway']")).to_have_attribute(
        "rel", "noopener noreferrer nofollow"
    )
    expect(description).to_contain_text("Reported by [e-mail hidden].")
    expect(description.locator("img")).to_have_count(0)
    assert "carol@example.org" not in description.inner_text()
    page.get_by_label("Add to the timeline").fill("Rolled back `gateway` to **v2.3**")
    page.get_by_role("button", name="Post").click()
    expect(page.locator("#timeline strong", has_text="v2.3")).to_be_visible()
    # data-reset-after-request (static/js/vigil.js) cleared the form after htmx's success.
    expect(page.get_by_label("Add to the timeline")).to_have_value("")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "incident-markdown.png", full_page=True)
    assert page.title() != "pwned"
    assert page.violations() == []

    # A report page with server-rendered SVG charts (their <style> is allowed by hash).
    page.goto("/o/acme/reports/team/")
    expect(page.locator("h1")).to_contain_text("Team")
    assert page.violations() == []


def test_api_docs_and_admin_load_without_a_csp_violation(demo, sign_in, watched):
    page = watched
    with scopes_disabled():
        UserFactory(email="root@vigil.test", is_staff=True, is_superuser=True)

    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Vigil API")
    assert page.violations() == []

    sign_in("root@vigil.test")
    page.goto("/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto("/admin/tenancy/organization/")
    expect(page.get_by_role("link", name="Acme Payments")).to_be_visible()
    assert page.violations() == []
