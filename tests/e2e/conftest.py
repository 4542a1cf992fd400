"""Browser tests: Debian's chromium, driven by Playwright, against pytest-django's live server.

Every test here is marked `browser` (deselect with `-m "not browser"`). The live server runs
in another thread, so the data a test creates must be committed: `live_server` switches the
test to `transactional_db` on its own, and `base_url` below pulls it into every page.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tenancy.demo import TEAMS, USERS
from tenancy.models import Organization, User
from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory

CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download its own browsers here; these flags keep Debian's chromium quiet,
# offline and runnable as root in a container (stack notes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Outside the repository on purpose: screenshots are for people to look at, not to commit.
SCREENSHOT_DIR = Path("/tmp/vigil-shots")  # noqa: S108 — a fixed, documented place to look
LOGIN_PATH = "/accounts/login/"
E2E_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    # A conftest hook sees every collected item of the session, not only this folder's.
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url(live_server):
    """Relative URLs in `page.goto()` resolve against the live server."""
    return live_server.url


@dataclass(frozen=True)
class Demo:
    """The demo organisations and people (tenancy/demo.py), all with the password PASSWORD."""

    orgs: dict[str, Organization]
    users: dict[str, User]


@pytest.fixture
def demo(transactional_db, acme, globex) -> Demo:
    """Acme and Globex with the demo's people, roles and teams, built with the factories."""
    orgs = {"acme": acme, "globex": globex}
    users = {}
    for email, full_name, roles in USERS:
        users[email] = UserFactory(email=email, full_name=full_name)
        for slug, role in roles.items():
            MembershipFactory(organization=orgs[slug], user=users[email], role=role)
    for slug, teams in TEAMS.items():
        for name, emails in teams.items():
            TeamFactory(organization=orgs[slug], name=name, members=[users[e] for e in emails])
    return Demo(orgs=orgs, users=users)


@pytest.fixture
def fill_login_form(page: Page):
    """fill_login_form(email, password=PASSWORD) signs in on the login page already open.

    It does not wait for where the form leads: the tests assert that."""

    def fill_and_submit(email: str, password: str = PASSWORD) -> Page:
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        return page

    return fill_and_submit


@pytest.fixture
def sign_in(page: Page, fill_login_form):
    """sign_in(email, password=PASSWORD) opens /accounts/login/ and submits the real form."""

    def open_and_sign_in(email: str, password: str = PASSWORD) -> Page:
        page.goto(LOGIN_PATH)
        return fill_login_form(email, password)

    return open_and_sign_in


@pytest.fixture
def screenshot(page: Page):
    """screenshot(name) saves the whole page to /tmp/vigil-shots/<name>.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take
