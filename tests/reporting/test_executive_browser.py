"""A manager opens the executive reports from the dashboard, creates a weekly schedule and
generates last week's report; screenshots of the page and of the PDF's first page."""

import datetime
import re
import subprocess

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from incidents.lifecycle import Status
from incidents.models import Incident
from reporting import executive
from reporting.models import ExecutiveReport
from tests.e2e.conftest import SCREENSHOT_DIR
from tests.incidents.factories import ServiceFactory
from tests.reporting.conftest import make_incident, timer

pytestmark = pytest.mark.browser


def test_manager_schedules_and_generates_an_executive_report(demo, sign_in, page, screenshot):
    acme = demo.orgs["acme"]
    admin = demo.users["admin@acme.test"]
    today = timezone.localtime(timezone.now(), acme.tzinfo).date()
    first, _ = executive.last_full_period("weekly", today)
    with scopes_disabled():
        services = [
            ServiceFactory(organization=acme, name=name)
            for name in ("Payments API", "Checkout web", "Ledger")
        ]
    for n in range(7):
        reported = datetime.datetime.combine(
            first + datetime.timedelta(days=n), datetime.time(9 + n), tzinfo=acme.tzinfo
        )
        incident = make_incident(
            acme,
            admin,
            reported=reported,
            acknowledged=reported + datetime.timedelta(minutes=4 + 3 * n),
            resolved=reported + datetime.timedelta(hours=1 + n % 3),
            status=Status.RESOLVED,
            sev=("SEV-1", "SEV-2", "SEV-3")[n % 3],
            source=Incident.Source.ALERT if n % 2 else Incident.Source.MANUAL,
            primary_service=services[n % 3],
            affected=[services[n % 3]],
            is_restricted=n == 3,
        )
        if n % 3:
            timer(incident, "acknowledge", met=incident.acknowledged_at)
        else:
            timer(incident, "acknowledge", breached=reported + datetime.timedelta(minutes=30))

    sign_in("manager@acme.test")
    page.goto(page.url.rstrip("/") + "/reports/")
    page.get_by_role("link", name="Executive reports").click()
    expect(page.get_by_role("heading", name="Executive reports", exact=True)).to_be_visible()
    expect(page.get_by_text("No schedules yet.")).to_be_visible()

    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Name").fill("Weekly to the board")
    page.get_by_label("Frequency").select_option("weekly")
    page.get_by_label("Weekday").select_option("0")
    page.get_by_label("Hour").fill("7")
    page.get_by_label("Outside e-mail addresses").fill("board@example.org")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_text("Schedule “Weekly to the board” saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="Weekly, Monday at 07:00")).to_be_visible()

    page.get_by_label("Period").select_option("weekly")
    page.get_by_role("button", name="Generate now").click()
    expect(page.get_by_text(re.compile(r"Report for .* generated\."))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Download"))).to_have_count(1)
    screenshot("reporting-executive")

    with scopes_disabled():
        report = ExecutiveReport.objects.get(organization=acme)
    assert report.period_start == first
    pdf = SCREENSHOT_DIR / "reporting-executive.pdf"
    pdf.write_bytes(bytes(report.pdf))
    subprocess.run(  # noqa: S603 — a fixed binary, our own file
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
            str(SCREENSHOT_DIR / "reporting-executive-pdf"),
        ],
        check=True,
    )
    assert (SCREENSHOT_DIR / "reporting-executive-pdf.png").stat().st_size > 0
