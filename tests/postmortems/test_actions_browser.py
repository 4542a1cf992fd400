"""Action items in a real browser (Debian's chromium through Playwright, the live server): the
owner marks an overdue item done from "my action items", filters the org-wide list and reads
the completion rate. Screenshots go to /tmp/shots/pmact-*.png for people to look at."""

import datetime as dt
from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from postmortems.models import ActionItem
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import PASSWORD, TeamFactory
from tests.postmortems.test_actions_support import BERLIN, make_item, make_postmortem

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots are for people, not for the repository
S = ActionItem.Status


# Debian's chromium with the offline flags, as for every browser test.
from tests.e2e.conftest import browser_type_launch_args  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"pmact-{name}.png"), full_page=True)


@pytest.fixture
def world(transactional_db, acme, make_member):
    rita = make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita Responder")
    oscar = make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar Ops")
    payments = TeamFactory(organization=acme, name="Payments", members=[rita.user])
    platform = TeamFactory(organization=acme, name="Platform", members=[oscar.user])
    today = dt.datetime.now(tz=BERLIN).date()  # acme's calendar
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=12)
    done_at = dt.datetime.combine(last_month, dt.time(8), tzinfo=dt.UTC)
    late_at = done_at + dt.timedelta(days=5)
    pm = make_postmortem(acme, rita.user, title="Checkout fails for card payments")
    db = make_postmortem(acme, oscar.user, title="Primary database failover", level="SEV-1")
    make_item(pm, title="Alert on checkout error rate", owner=rita.user, team=payments,
              due_date=today - dt.timedelta(days=3), priority="p1", kind="detect",
              ticket_url="https://tracker.example/OPS-41", ticket_key="OPS-41")  # fmt: skip
    make_item(pm, title="Canary release for the payment gateway", owner=rita.user,
              team=payments, due_date=today + dt.timedelta(days=12), kind="prevent")  # fmt: skip
    make_item(pm, title="Runbook: roll back a gateway release", owner=rita.user, kind="process")
    make_item(pm, title="Retry card authorisations once", owner=rita.user, team=payments,
              due_date=last_month, status=S.DONE, completed_at=done_at,
              kind="mitigate")  # fmt: skip
    make_item(db, title="Replica lag alert", owner=oscar.user, team=platform,
              due_date=last_month, status=S.DONE, completed_at=late_at, kind="detect")  # fmt: skip
    make_item(db, title="Failover drill every quarter", team=platform, due_date=last_month,
              kind="process", priority="p2")  # fmt: skip
    make_item(db, title="Document the failover", due_date=last_month, status=S.WONT_DO)
    return {"rita": rita, "pm": pm, "last_month": last_month}


def sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_owner_finishes_an_overdue_item_and_reads_the_completion_rate(world, live_server, page):
    sign_in(page, live_server, "rita@acme.test")
    page.goto(live_server.url + "/o/acme/postmortems/actions/mine/")
    overdue = page.locator("tr.ai-overdue")
    expect(overdue).to_have_count(1)
    expect(overdue).to_contain_text("Alert on checkout error rate")
    expect(page.get_by_text("1 overdue")).to_be_visible()
    shot(page, "mine")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "mine-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Mark “Alert on checkout error rate” done").click()
    expect(page.get_by_text("“Alert on checkout error rate” is now done.")).to_be_visible()
    expect(page.locator("tr.ai-overdue")).to_have_count(0)

    page.get_by_role("link", name="All action items").click()
    page.get_by_label("Team").select_option(label="Platform")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.ai-table tbody tr")).to_have_count(2)
    shot(page, "list")

    page.get_by_role("link", name="Completion rate").click()
    page.get_by_role("textbox", name="Period").fill(f"{world['last_month']:%Y-%m}")
    page.get_by_role("button", name="Show").click()
    payments = page.locator("tr", has=page.get_by_role("rowheader", name="Payments")).first
    expect(payments).to_contain_text("100 %")
    platform = page.locator("tr", has=page.get_by_role("rowheader", name="Platform")).first
    expect(platform).to_contain_text("0 %")
    expect(page.get_by_text("How is this computed?")).to_be_visible()
    shot(page, "completion")

    page.goto(live_server.url + "/o/acme/postmortems/actions/")
    page.get_by_role("link", name="Canary release for the payment gateway").click()
    expect(page.get_by_role("heading", name="Edit")).to_be_visible()
    shot(page, "item")


def test_the_panel_as_the_post_mortem_page_shows_it(world, live_server, page):
    """The post-mortem page itself is another part's; the panel is rendered here alone, with
    Vigil's stylesheet, to look at."""
    rita = world["rita"]
    request = RequestFactory().get("/o/acme/postmortems/1/")
    request.user, request.org, request.membership = rita.user, rita.organization, rita
    with scopes_disabled():
        rita = type(rita).objects.select_related("organization", "user").get(pk=rita.pk)
    with org_scope(rita.organization):
        html = Template("{% load postmortems_actions %}{% action_items_panel pm %}").render(
            Context({"pm": world["pm"], "request": request})
        )
    page.goto(live_server.url + "/accounts/login/")
    page.set_content(
        f'<html><head><link rel="stylesheet" href="{live_server.url}/static/css/vigil.css">'
        f'</head><body><main id="main">{html}</main></body></html>'
    )
    page.locator("summary", has_text="Add an action item").click()
    expect(page.locator("tr.ai-overdue")).to_have_count(1)
    shot(page, "panel")
