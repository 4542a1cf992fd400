"""Signing in through the real login form, landing on an organisation, switching between
organisations, and the same pages on a phone-sized screen."""

import re

from playwright.sync_api import Page, expect

RESPONDER = "responder@acme.test"  # responder in Acme only
CONSULTANT = "consultant@vigil.test"  # responder in Acme, viewer in Globex


def org_url(base_url: str, slug: str) -> str:
    return f"{base_url}/o/{slug}/"


def login_url(base_url: str, next_path: str = "") -> re.Pattern:
    """The login page, with `?next=<next_path>` when one is given."""
    query = re.escape(f"?next={next_path}") if next_path else r"(\?.*)?"
    return re.compile(rf"^{re.escape(base_url)}/accounts/login/{query}$")


def test_single_org_responder_lands_on_org_home_without_switcher(
    page: Page, base_url, demo, sign_in
):
    """A member of one organisation lands on its home, sees its name and their role there,
    and gets no organisation switcher."""
    # given a responder who belongs to Acme only (demo)
    # when they sign in
    sign_in(RESPONDER)
    # then they are on Acme's home, told who they are there, with no switcher to show
    expect(page).to_have_url(org_url(base_url, "acme"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Payments")
    expect(page.get_by_text("You are Responder here")).to_be_visible()
    expect(page.get_by_role("banner").get_by_text("Acme Payments")).to_be_visible()
    expect(page.get_by_role("banner").get_by_text("Remy Responder")).to_be_visible()
    expect(page.get_by_test_id("org-switcher")).to_have_count(0)


def test_consultant_switches_between_their_organisations(
    page: Page, base_url, demo, sign_in, screenshot
):
    """A member of two organisations lands on the first by name and moves between both with
    the header's switcher; the page follows with the name and the role held there."""
    # given a consultant: responder in Acme, viewer in Globex (demo)
    # when they sign in
    sign_in(CONSULTANT)
    # then they land on Acme, the first of their organisations by name
    switcher = page.get_by_test_id("org-switcher")
    expect(page).to_have_url(org_url(base_url, "acme"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Payments")
    expect(page.get_by_text("You are Responder here")).to_be_visible()
    expect(switcher.locator("summary")).to_have_text("Acme Payments")
    screenshot("org-home-1280-consultant")

    # when they open the switcher and choose Globex
    switcher.locator("summary").click()
    expect(switcher.get_by_role("link")).to_have_count(2)
    switcher.get_by_role("link", name="Globex Energy").click()
    # then Globex's home shows, with their Globex role
    expect(page).to_have_url(org_url(base_url, "globex"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Energy")
    expect(page.get_by_text("You are Viewer here")).to_be_visible()
    expect(switcher.locator("summary")).to_have_text("Globex Energy")

    # when they open the switcher again and choose Acme
    switcher.locator("summary").click()
    expect(switcher.get_by_role("link", name="Globex Energy")).to_have_attribute(
        "aria-current", "true"
    )
    switcher.get_by_role("link", name="Acme Payments").click()
    # then they are a responder on Acme's home again
    expect(page).to_have_url(org_url(base_url, "acme"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Payments")
    expect(page.get_by_text("You are Responder here")).to_be_visible()


def test_signed_out_visitor_returns_to_the_page_they_asked_for(
    page: Page, base_url, demo, fill_login_form, screenshot
):
    """Someone not signed in who opens an organisation page is asked to sign in and is then
    taken back to that page (`next`)."""
    # given nobody is signed in
    # when they open Acme's home
    page.goto("/o/acme/")
    # then the login page asks them to sign in and remembers where they were going
    expect(page).to_have_url(login_url(base_url, next_path="/o/acme/"))
    expect(page.get_by_role("heading", name="Sign in to Vigil")).to_be_visible()
    expect(page.locator("input[name=next]")).to_have_value("/o/acme/")
    screenshot("login")

    # when they sign in there
    fill_login_form(RESPONDER)
    # then they are back on Acme's home
    expect(page).to_have_url(org_url(base_url, "acme"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Payments")


def test_next_wins_over_the_default_organisation(page: Page, base_url, demo, fill_login_form):
    """`next` decides where a signed-in user goes, even when it is not the organisation they
    would land on by default (the consultant's default is Acme, the first by name)."""
    # given nobody is signed in, and they open Globex's home
    page.goto("/o/globex/")
    expect(page).to_have_url(login_url(base_url, next_path="/o/globex/"))
    # when the consultant signs in
    fill_login_form(CONSULTANT)
    # then they are on Globex's home, not Acme's
    expect(page).to_have_url(org_url(base_url, "globex"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Energy")


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(
    page: Page, base_url, demo, sign_in, screenshot
):
    """A wrong password is refused with a message that says what to fix, on the login page."""
    # given a known user (demo)
    # when they sign in with a wrong password
    sign_in(RESPONDER, password="not-the-password")
    # then the login page says so, keeps the e-mail address, and nobody is signed in
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct e-mail address")
    expect(page).to_have_url(login_url(base_url))
    expect(page.get_by_label("E-mail address")).to_have_value(RESPONDER)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("banner").get_by_text("Remy Responder")).to_have_count(0)
    screenshot("login-wrong-password")


def test_org_home_fits_a_390px_wide_screen(page: Page, base_url, demo, sign_in, screenshot):
    """On a phone-sized screen the header and the organisation's name stay visible and the
    page never scrolls sideways."""
    # given a 390 px wide screen
    page.set_viewport_size({"width": 390, "height": 844})
    # when the consultant signs in
    sign_in(CONSULTANT)
    # then the header, the switcher and the organisation's name are on screen
    expect(page).to_have_url(org_url(base_url, "acme"))
    expect(page.get_by_role("banner")).to_be_in_viewport()
    expect(page.get_by_role("link", name="Vigil home")).to_be_in_viewport()
    expect(page.get_by_test_id("org-switcher")).to_be_in_viewport()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Payments")
    expect(page.get_by_role("heading", level=1)).to_be_in_viewport()
    # and nothing is wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot("org-home-390-consultant")
