"""The knowledge base in a real browser (Debian's chromium through Playwright, the live server):
a responder searches by keyboard, narrows by tag, browses tags, and meets a similar past
incident on an open incident's page. Screenshots go to /tmp/shots/pmkb-*.png for people."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tenancy.roles import Role
from tests.factories import PASSWORD
from tests.incidents.factories import ServiceFactory, declare
from tests.postmortems.test_kb_support import postmortem, resolved_incident

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")  # noqa: S108 — screenshots are for people, not for the repository


# Debian's chromium with the offline flags, as for every browser test.
from tests.e2e.conftest import browser_type_launch_args  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


def shot(page, name, element=None):
    SHOTS.mkdir(exist_ok=True)
    target = element or page
    kwargs = {} if element else {"full_page": True}
    target.screenshot(path=str(SHOTS / f"pmkb-{name}.png"), **kwargs)


@pytest.fixture
def world(transactional_db, acme, make_member):
    rita = make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita Responder")
    admin = make_member(acme, Role.ADMIN, email="ada@acme.test", full_name="Ada Admin").user
    cache = ServiceFactory(organization=acme, name="Session cache")
    postmortem(
        resolved_incident(acme, admin, "Redis failover stalled checkout", primary_service=cache),
        summary=(
            "A Redis sentinel failover took 4 minutes because the quorum was lost; checkout "
            "sessions could not be written and 3% of payments failed."
        ),
        whys=[("Why did checkout stall?", "Session writes blocked during the Redis failover")],
        causes=[("technology", "Sentinel quorum of two"), ("process", "No failover drill")],
        lessons_learned="Run failover drills every quarter.",
        tags=["redis", "failover"],
    )
    postmortem(
        resolved_incident(acme, admin, "Search results stale for an hour"),
        summary="The indexer stopped after a deploy.",
        contributing_factors="Redis memory limit evicted the indexer's queue.",
        tags=["redis", "search"],
    )
    postmortem(
        resolved_incident(acme, admin, "Expired TLS certificate on the API"),
        summary="Clients failed TLS handshakes for 22 minutes.",
        tags=["certificates"],
    )
    postmortem(
        resolved_incident(acme, admin, "Secret rotation leak", is_restricted=True),
        summary="Redis password found in a log.",
        tags=["security"],
    )
    current = declare(
        acme,
        admin,
        title="Checkout sessions lost after Redis failover",
        primary_service=cache,
    )
    return {"rita": rita, "current": current}


def sign_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_responder_searches_narrows_by_tag_and_meets_a_similar_incident(world, live_server, page):
    sign_in(page, live_server, "rita@acme.test")
    page.goto(live_server.url + "/o/acme/postmortems/search/")
    expect(page.get_by_role("heading", name="Post-mortem knowledge base")).to_be_visible()

    page.get_by_label("Search", exact=True).fill("redis failover")
    page.keyboard.press("Enter")
    results = page.locator("li.kb-result")
    expect(results).to_have_count(1)
    expect(results.first.locator("mark").first).to_have_text("Redis")
    page.get_by_label("Search", exact=True).fill("redis")
    page.keyboard.press("Enter")
    expect(results).to_have_count(2)  # not the restricted one
    expect(results.first).to_contain_text("Redis failover stalled checkout")
    shot(page, "search")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "search-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    results.nth(1).get_by_role("link", name="search", exact=True).click()
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Search results stale for an hour")

    page.get_by_role("link", name="Browse tags").click()
    redis = page.locator("tr", has=page.get_by_role("link", name="redis", exact=True))
    expect(redis).to_contain_text("2")
    expect(page.locator("tr", has_text="security")).to_contain_text("0")
    shot(page, "tags")

    page.goto(live_server.url + f"/o/acme/incidents/{world['current'].key}/")
    panel = page.get_by_test_id("similar-past-incidents")
    expect(panel).to_contain_text("Redis failover stalled checkout")
    expect(panel.get_by_role("link", name="Post-mortem of ACME-1")).to_have_attribute(
        "href", "/o/acme/postmortems/ACME-1/"
    )
    shot(page, "similar-panel", panel)


def test_the_empty_knowledge_base_explains_itself(
    transactional_db, acme, make_member, live_server, page
):
    make_member(acme, Role.VIEWER, email="vera@acme.test")
    sign_in(page, live_server, "vera@acme.test")

    page.goto(live_server.url + "/o/acme/postmortems/search/")

    expect(page.get_by_test_id("kb-empty")).to_contain_text("No published post-mortems yet")
    shot(page, "empty")
