"""The audit page in a browser: compliance staff verify the hash chain and export the trail."""

from pathlib import Path

from playwright.sync_api import Page, expect

from incidents import services
from tenancy.scoping import org_scope
from tests.incidents.factories import severity

COMPLIANCE = "compliance@acme.test"


def test_compliance_verifies_the_chain_and_exports_the_trail(page: Page, demo, sign_in, screenshot):
    acme = demo.orgs["acme"]
    with org_scope(acme):
        incident = services.incident_create(
            organization=acme,
            actor=demo.users["responder@acme.test"],
            title="Checkout fails",
            severity=severity(acme, "SEV-2"),
        )
        services.incident_comment(
            incident=incident, actor=demo.users["responder@acme.test"], text="Rolled back v42"
        )
    sign_in(COMPLIANCE)
    page.goto("/o/acme/compliance/audit/")
    panel = page.get_by_role("region", name="Tamper evidence")
    expect(panel.get_by_text("Never verified.")).to_be_visible()
    screenshot("audit-chain-never-verified")

    panel.get_by_role("button", name="Verify now").click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    expect(panel.get_by_text("✓ Chain intact")).to_be_visible()
    expect(panel.get_by_text(COMPLIANCE)).to_be_visible()
    screenshot("audit-chain-verified")
    page.screenshot(path="/tmp/vigil-shots/audit-chain-verified-top.png")  # noqa: S108

    export = page.get_by_role("region", name="Export the audit trail")
    export.get_by_label("From").fill("2026-03-02")
    export.get_by_label("To", exact=True).fill("2026-03-01")
    export.get_by_label("CSV").check()
    export.get_by_role("button", name="Export").click()
    expect(page.get_by_role("alert").first).to_contain_text("The end date is before the start")
    screenshot("audit-export-error")

    form = page.locator("form.audit-export")
    form.get_by_label("From").fill("")
    form.get_by_label("To", exact=True).fill("")
    form.get_by_label("Incident key").fill(incident.key)
    form.get_by_label("CSV").check()
    with page.expect_download() as download:
        form.get_by_role("button", name="Export").click()
    assert download.value.suggested_filename == f"acme-audit-{incident.key}.csv"
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Rolled back v42" in content

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/o/acme/compliance/audit/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing overflows
    page.screenshot(path="/tmp/vigil-shots/audit-chain-phone-top.png")  # noqa: S108
