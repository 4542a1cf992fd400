"""In the browser (Debian's chromium via Playwright, against the live server): two responders
in one war room see each other's messages without reloading; the incident page's channels
panel shows a Slack failure with its retry button; the settings page. Screenshots go to
/tmp/shots/chan-*.png."""

import re
from pathlib import Path

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from incidents.channels.models import WarRoomMessage
from tenancy.roles import Role
from tests.channels.conftest import TOKEN, configure
from tests.e2e.conftest import browser_type_launch_args  # noqa: F401 — shared
from tests.factories import PASSWORD
from tests.incidents.factories import declare, severity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots")  # noqa: S108 — where the brief asks for them


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/o/acme/"))


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"chan-{name}.png", full_page=True)


def test_two_responders_see_each_others_war_room_messages_live(
    acme, make_member, browser, base_url, eager_celery, fake_slack
):
    rita = make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita Responder")
    make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar Oncall")
    make_member(acme, Role.ADMIN, email="ada@acme.test", full_name="Ada Admin")
    configure(
        acme,
        slack_level=2,
        slack_token=TOKEN,
        slack_base_url=fake_slack.base_url,
        slack_team_id="T0ACME",
        bridge_level=2,
        bridge_url_pattern="https://meet.example.com/{key}",
        bridge_phone_pattern="+49 30 1234 5678,,{number}#",
    )
    fake_slack.fail_next("conversations.create", status=500)
    incident = declare(
        acme, rita.user, title="Card payments fail at checkout", severity=severity(acme, "SEV-1")
    )
    war_room = f"/o/acme/incidents/{incident.key}/channels/war-room/"

    first = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    second = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page_a, page_b = first.new_page(), second.new_page()
    sign_in(page_a, "rita@acme.test")
    sign_in(page_b, "oscar@acme.test")
    page_a.goto(war_room)
    page_b.goto(war_room)
    expect(page_b.get_by_text(f"War room opened for {incident.key}")).to_be_visible()

    box = page_a.get_by_label("Write in the war room")
    box.fill("Rolling back release 4.12 on the payment gateway.")
    box.press("Control+Enter")

    # Oscar's page has not been reloaded: the poll brings Rita's message in.
    expect(page_b.get_by_text("Rolling back release 4.12")).to_be_visible(timeout=10_000)
    expect(page_a.get_by_label("Write in the war room")).to_have_value("")
    page_b.get_by_label("Write in the war room").fill("Errors dropping on the canary.")
    page_b.get_by_role("button", name="Send").click()
    expect(page_a.get_by_text("Errors dropping on the canary.")).to_be_visible(timeout=10_000)
    with scopes_disabled():
        authors = list(
            WarRoomMessage.objects.filter(incident=incident, author__isnull=False)
            .order_by("pk")
            .values_list("author__email", flat=True)
        )
    assert authors == ["rita@acme.test", "oscar@acme.test"]
    shot(page_a, "war-room")

    page_a.set_viewport_size({"width": 390, "height": 844})
    shot(page_a, "war-room-phone")
    page_a.set_viewport_size({"width": 1280, "height": 900})

    page_a.goto(f"/o/acme/incidents/{incident.key}/")
    panel = page_a.get_by_test_id("channels-panel")
    expect(panel).to_contain_text("Slack said http_500")
    expect(panel.get_by_test_id("bridge-url")).to_have_text(
        f"https://meet.example.com/{incident.key}"
    )
    panel.scroll_into_view_if_needed()
    shot(page_a, "incident-panel-failed")
    panel.get_by_role("button", name="Retry now").click()
    expect(page_a.get_by_test_id("channels-panel")).to_contain_text(f"#inc-{incident.key.lower()}")
    page_a.get_by_test_id("channels-panel").scroll_into_view_if_needed()
    shot(page_a, "incident-panel-ready")

    admin = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page_c = admin.new_page()
    sign_in(page_c, "ada@acme.test")
    page_c.goto("/o/acme/settings/channels/")
    expect(page_c.get_by_test_id("token-state")).to_have_text(re.compile("A bot token is saved"))
    assert TOKEN not in page_c.content()
    page_c.get_by_role("button", name="Test Slack connection").click()
    expect(page_c.get_by_text("connected to the workspace “Acme HQ”")).to_be_visible()
    shot(page_c, "settings")
    page_c.get_by_label("Dial-in pattern").fill("+49 30 {pin}")
    page_c.get_by_role("button", name="Save").click()
    expect(page_c.get_by_text("Unknown placeholder {pin}")).to_be_visible()
    shot(page_c, "settings-error")
    for context in (first, second, admin):
        context.close()
