"""Fuzz fixtures: one rolled-back transaction per hypothesis example, fresh per-process
caches, and the database invariants every example must leave intact."""

import collections
import contextlib
import logging
import os

import pytest
from django.db import connection, transaction

from integrations import ingest

# Examples run per test (node id), reported at the end of the run; FUZZ_REPORT=<file> writes
# the per-test figures (docs/logging.md quotes them).
EXAMPLES: collections.Counter = collections.Counter()
_current = [""]


@pytest.fixture(autouse=True)
def _count_examples(request):
    _current[0] = request.node.nodeid
    yield
    _current[0] = ""


def pytest_terminal_summary(terminalreporter):
    if not EXAMPLES:
        return
    terminalreporter.write_line(f"fuzz: {sum(EXAMPLES.values())} examples in {len(EXAMPLES)} tests")
    if path := os.environ.get("FUZZ_REPORT"):
        with open(path, "w", encoding="utf-8") as report:
            for nodeid, count in sorted(EXAMPLES.items()):
                report.write(f"{count}\t{nodeid}\n")


@contextlib.contextmanager
def example_transaction():
    """Run one hypothesis example in a savepoint inside the test's transaction and roll it
    back afterwards: hypothesis reuses function-scoped fixtures across examples, so without
    this the examples would see each other's rows (and the rate limits they used up)."""
    for cache in (ingest.SOURCES, ingest.WINDOWS, ingest.RULES):
        cache.forget()
    ingest._WINDOW = ingest._Window()
    EXAMPLES[_current[0]] += 1
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def assert_ingest_consistent() -> None:
    """What ingestion must never leave behind, whatever it was sent."""
    # Every alert, its source, payload and group belong to one organisation.
    assert not rows(
        """SELECT a.id FROM integrations_alert a
           JOIN integrations_alertsource s ON s.id = a.source_id
           JOIN integrations_rawpayload r ON r.id = a.raw_id
           LEFT JOIN integrations_alertgroup g ON g.id = a.group_id
           WHERE s.organization_id <> a.organization_id OR r.organization_id <> a.organization_id
              OR r.source_id <> a.source_id
              OR (g.id IS NOT NULL AND (g.organization_id <> a.organization_id
                                        OR g.source_id <> a.source_id))"""
    ), "an alert crosses organisations or sources"
    # A group's counter is the number of its alerts.
    assert not rows(
        """SELECT g.id, g.count, count(a.id) FROM integrations_alertgroup g
           LEFT JOIN integrations_alert a ON a.group_id = g.id
           GROUP BY g.id HAVING g.count <> count(a.id)"""
    ), "a group's count differs from its alerts"
    # A group's incident is of the group's organisation.
    assert not rows(
        """SELECT g.id FROM integrations_alertgroup g
           JOIN incidents_incident i ON i.id = g.incident_id
           WHERE i.organization_id <> g.organization_id"""
    ), "a group is linked to another organisation's incident"
    # Rejected payloads have no alerts; processed ones have as many as they say.
    assert not rows(
        """SELECT r.id FROM integrations_rawpayload r
           LEFT JOIN integrations_alert a ON a.raw_id = r.id
           GROUP BY r.id
           HAVING (r.status = 'rejected' AND count(a.id) > 0)
               OR (r.status = 'processed' AND r.alert_count <> count(a.id))"""
    ), "a payload's alerts do not match its status"


@pytest.fixture
def no_error_logs(caplog):
    """Fail when a request logged an error: ingestion catches processing failures (and
    answers 202), so a swallowed exception is only visible here."""
    caplog.set_level(logging.WARNING)

    def check():
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        caplog.clear()
        assert not errors, [r.getMessage() for r in errors]

    return check
