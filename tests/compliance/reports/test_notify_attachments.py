"""incidents.notify carries stored files: e-mails with attachments referenced by kind and id,
read when sent, idempotent by key, and a missing file is a recorded, retried failure."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django_scopes import scopes_disabled

from compliance.records import REGISTRY
from compliance.reports.services import ATTACHMENT_KIND, report_generate
from incidents import notify
from incidents.models import Delivery
from tests.compliance.reports.conftest import obligation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


@pytest.fixture
def report(acme, breach, compliance_user):
    return report_generate(
        organization=acme,
        actor=compliance_user,
        incident=breach,
        obligation=obligation(acme, "gdpr-art33"),
    )


def send(acme, report, key="k1"):
    return notify.email_with_attachments(
        organization=acme,
        to=[("Ada", "ada@example.eu")],
        subject="Report",
        body="Attached.",
        attachments=[{"kind": ATTACHMENT_KIND, "id": report.pk}],
        key=key,
    )


def test_idempotent_by_key(acme, report):
    first = send(acme, report)
    again = send(acme, report)
    assert [d.pk for d in first] == [d.pk for d in again]
    with scopes_disabled():
        assert Delivery.objects.count() == 1
    assert first[0].payload["body"].startswith("Dear Ada,")


def test_an_unknown_attachment_kind_is_refused(acme):
    with pytest.raises(ValidationError, match="Unknown attachment kind"):
        notify.email_with_attachments(
            organization=acme,
            to=[("Ada", "ada@example.eu")],
            subject="x",
            body="x",
            attachments=[{"kind": "nope", "id": 1}],
            key="k",
        )
    with scopes_disabled():
        assert not Delivery.objects.exists()


def test_a_purged_report_fails_the_delivery_without_sending(acme, report):
    (delivery,) = send(acme, report)
    retained = REGISTRY["reports"]
    with scopes_disabled(), transaction.atomic():
        retained.purge(retained.rows(acme.pk))
    result = notify.deliver(delivery=delivery)
    assert result.status == Delivery.Status.PENDING
    assert result.attempts == 1
    assert "Could not read the attachment" in result.last_error
    assert mail.outbox == []
