"""An access review in a real browser (Debian's chromium through Playwright, the live server):
a compliance officer opens the review, certifies a line from the keyboard, revokes another
with a reason, and reads the progress. Screenshots go to /tmp/shots/reviews-*.png for people
to look at."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from compliance.reviews import services
from incidents import services as incident_services
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import PASSWORD
from tests.incidents.factories import declare

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots are for people, not for the repository


# Debian's chromium with the offline flags, as for every browser test.
from tests.e2e.conftest import browser_type_launch_args  # noqa: E402, F401


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"reviews-{name}.png"), full_page=True)


def sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def world(transactional_db, acme, make_member):
    admin = make_member(acme, Role.ADMIN, email="ada@acme.test", full_name="Ada Admin").user
    make_member(acme, Role.COMPLIANCE, email="cora@acme.test", full_name="Cora Compliance")
    make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita Responder")
    oscar = make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar Ops")
    make_member(acme, Role.MANAGER, email="max@acme.test", full_name="Max Manager")
    make_member(acme, Role.VIEWER, email="vera@acme.test", full_name="Vera Viewer")
    secret = declare(acme, admin, title="Payroll export leaked", is_restricted=True)
    with org_scope(acme):
        incident_services.incident_grant_access(incident=secret, actor=admin, user=oscar.user)
    return services.campaign_start(organization=acme, actor=admin)


def test_a_compliance_officer_certifies_and_revokes(world, live_server, page):
    sign_in(page, live_server, "cora@acme.test")
    page.goto(live_server.url + "/o/acme/compliance/reviews/")
    expect(page.get_by_role("heading", name="Access reviews")).to_be_visible()
    expect(page.get_by_text("0 of 8")).to_be_visible()
    shot(page, "list")

    page.get_by_role("link", name=f"{world.period_start:%Y-%m-%d}").click()
    expect(page.get_by_text("0 of 8 decided (0 %)")).to_be_visible()
    shot(page, "detail")

    rows = page.locator("table.ar-table tbody tr[id^=line-]")
    checkbox = rows.locator("input[type=checkbox]").first
    checkbox.focus()
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    page.get_by_role("button", name="Certify selected").click()
    expect(page.get_by_text("Certified 1 line.")).to_be_visible()
    expect(page.get_by_text("1 of 8 decided (12 %)")).to_be_visible()

    # Reviewers are assigned least-loaded first, by e-mail: Vera's line is Cora's.
    page.get_by_label("Person or incident").fill("vera")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cora Compliance")
    rows.first.get_by_role("link", name="Revoke…").click()
    page.get_by_label("Remove the access").check()
    page.get_by_label("Reason").fill("Left the company")
    shot(page, "revoke")
    page.get_by_role("button", name="Revoke now").click()
    expect(page.get_by_text("Removed from the organisation.").first).to_be_visible()
    expect(page.get_by_text("Revoked").first).to_be_visible()
    shot(page, "after-revoke")

    page.goto(live_server.url + "/o/acme/compliance/reviews/mine/")
    expect(page.get_by_role("heading", name="My pending reviews")).to_be_visible()
    shot(page, "mine")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "mine-phone")


def test_an_admin_finishes_and_signs_off(world, live_server, page):
    from django_scopes import scopes_disabled

    from compliance.reviews.models import ReviewLine

    with scopes_disabled():
        coras = list(ReviewLine.objects.filter(campaign=world, reviewer__email="cora@acme.test"))
    for line in coras:
        services.line_certify(line=line, actor=line.reviewer)
    sign_in(page, live_server, "ada@acme.test")
    page.goto(live_server.url + f"/o/acme/compliance/reviews/{world.pk}/")

    page.get_by_role("button", name="Certify all 4 shown that you may decide").click()
    expect(page.get_by_text("Certified 4 lines.")).to_be_visible()
    expect(page.get_by_text("8 of 8 decided (100 %)")).to_be_visible()
    page.get_by_role("button", name="Sign off the review").click()
    expect(page.get_by_text("Access review signed off.")).to_be_visible()
    expect(page.get_by_text("decisions unchanged since the sign-off")).to_be_visible()
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    shot(page, "signed-off")

    page.get_by_role("link", name="Schedule").click()
    page.get_by_label("Review every (months)").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 1.")).to_be_visible()
    shot(page, "schedule-error")
