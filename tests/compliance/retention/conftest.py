"""acme with its frameworks switched off, so short test policies are allowed."""

import pytest

from tests.compliance.retention.factories import switch_off_frameworks


@pytest.fixture
def no_minimums(acme):
    switch_off_frameworks(acme)
    return acme
