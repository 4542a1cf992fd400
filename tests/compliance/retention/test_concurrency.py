"""Two purges of one organisation at once: one does the work, the other skips; nothing is
counted twice."""

import threading

import psycopg
import pytest
from django.db import connection
from django_scopes import scopes_disabled

from compliance.models import RecordType
from compliance.retention import services
from compliance.retention.models import PurgeReceipt
from integrations.models import RawPayload
from tests.compliance.retention.factories import alert_source, payload, set_policy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def old_payloads(no_minimums, admin):
    set_policy(no_minimums, admin, RecordType.ALERTS, 30)
    source = alert_source(no_minimums)
    return [payload(source, received_days_ago=60 + n) for n in range(6)]


def other_session():
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )


def test_a_purge_skips_an_organisation_another_purge_is_working_on(no_minimums, old_payloads):
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [services.LOCK_NAMESPACE, no_minimums.pk])
        run = services.retention_purge(organization=no_minimums, origin="command:test")
    assert run.skipped
    assert run.receipts == []
    with scopes_disabled():
        assert RawPayload.objects.filter(organization=no_minimums).count() == 6
        assert not PurgeReceipt.objects.exists()


def test_two_purges_at_once_remove_and_count_each_row_once(no_minimums, old_payloads):
    barrier = threading.Barrier(2)
    runs, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            runs.append(services.retention_purge(organization=no_minimums, origin="command:test"))
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.count for run in runs for r in run.receipts) == 6
    with scopes_disabled():
        assert RawPayload.objects.filter(organization=no_minimums).count() == 0
        assert sum(PurgeReceipt.objects.values_list("count", flat=True)) == 6
