"""acme with its frameworks switched off, so short test policies are allowed; the browser
fixtures of tests/e2e."""

import pytest

from tests.compliance.retention.factories import switch_off_frameworks

# The browser test's fixtures: Debian's chromium, the live server, the demo people, screenshots.
from tests.e2e.conftest import (  # noqa: F401
    base_url,
    browser_type_launch_args,
    demo,
    fill_login_form,
    screenshot,
    sign_in,
)


@pytest.fixture
def no_minimums(acme):
    switch_off_frameworks(acme)
    return acme
