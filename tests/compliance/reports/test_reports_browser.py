"""The obligation's reports page in a real browser (Debian's chromium through Playwright, the
live server): compliance staff generate a version, see the missing-data warning, and e-mail
the PDF to a distribution list. Screenshots go to /tmp/vigil-shots/reports-*.png; the first
page of the PDF is rendered to /tmp/vigil-shots/reports-pdf-1.png with pdftoppm."""

import subprocess
from pathlib import Path

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from compliance.reports.models import DistributionList, DistributionRecipient, Report
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/vigil-shots")  # noqa: S108 — screenshots are for people, not the repository


# Debian's chromium with the offline flags, as for every browser test.
from tests.e2e.conftest import browser_type_launch_args  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"reports-{name}.png"), full_page=True)


@pytest.fixture
def world(transactional_db, acme, breach, compliance_user):
    with scopes_disabled():
        regulators = DistributionList.objects.create(
            organization=acme, name="Data protection authority"
        )
        DistributionRecipient.objects.create(
            organization=acme,
            distribution_list=regulators,
            name="Berlin DPA",
            email="breach@dpa.example.eu",
        )
    return breach


def test_compliance_generates_and_sends_a_report(world, live_server, page):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail address").fill("cora@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/o/acme/compliance/reports/{world.key}/gdpr-art33/")
    heading = page.get_by_role("heading", name=f"{world.key} · Notify the supervisory authority")
    expect(heading).to_be_visible()
    expect(page.get_by_text("still missing")).to_be_visible()
    expect(page.get_by_text("No report generated yet")).to_be_visible()
    shot(page, "obligation-empty")

    page.get_by_role("button", name="Generate new version").click()
    expect(page.get_by_text("Version 1 generated.")).to_be_visible()
    expect(page.get_by_role("link", name="Download v1")).to_be_visible()
    expect(page.get_by_text("matches the current data")).to_be_visible()

    page.get_by_label("Distribution list").select_option(label="Data protection authority")
    page.get_by_role("button", name="E-mail the PDF").click()
    expect(page.get_by_text("is on its way to 1 recipient")).to_be_visible()
    expect(page.get_by_text("breach@dpa.example.eu")).to_be_visible()
    shot(page, "obligation")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "obligation-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Regulatory reports", exact=True).click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    shot(page, "list")

    page.get_by_role("link", name="Distribution lists").click()
    page.get_by_role("link", name="Data protection authority").click()
    page.locator("#id_address-name").fill("Legal counsel")
    page.get_by_label("E-mail address").fill("counsel@law.example")
    page.get_by_role("button", name="Add address").click()
    expect(page.get_by_text("Legal counsel added.")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(2)
    shot(page, "list-detail")

    with scopes_disabled():
        report = Report.objects.get()
    pdf = SHOTS / "reports-v1.pdf"
    pdf.write_bytes(bytes(report.pdf))
    subprocess.run(  # noqa: S603
        [
            "/usr/bin/pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(SHOTS / "reports-pdf-1"),
        ],  # fmt: skip
        check=True,
    )
    assert (SHOTS / "reports-pdf-1.png").stat().st_size > 1000
