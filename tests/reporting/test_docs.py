"""docs/reporting.md repeats every KPI definition the dashboard shows, word for word."""

from pathlib import Path

import pytest

from reporting import definitions

DOC = (Path(__file__).resolve().parents[2] / "docs" / "reporting.md").read_text()


@pytest.mark.parametrize(
    "text",
    [definitions.PERIOD, definitions.EXCLUSIONS, definitions.FILTERS]
    + [kpi.text for kpi in definitions.KPIS]
    + [figure.text for figure in definitions.NORMALISATION],
)
def test_the_documentation_states_each_definition(text):
    assert text in DOC
