"""The report pages: who may see them (export_compliance; everyone else 404), the obligation's
versions page, generating, downloading the stored bytes, the list with its filters, and
distribution lists e-mailing a version as a PDF attachment."""

import pytest
from django.core import mail
from django.urls import reverse
from django_scopes import scopes_disabled

from compliance.reports.models import (
    DistributionList,
    DistributionRecipient,
    Report,
    ReportDistribution,
)
from compliance.reports.services import report_generate
from incidents import notify
from incidents.models import Delivery, Incident
from tenancy.roles import Role
from tests.compliance.reports.conftest import obligation, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Deliveries are sent by calling notify.deliver below, not by a worker."""
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


def url(name, incident=None, key="gdpr-art33", **kwargs):
    if incident is not None:
        kwargs.update(key=incident.key, obligation_key=key)
    return reverse(f"compliance_reports:{name}", kwargs={"org_slug": "acme", **kwargs})


def generate(acme, user, incident, key="gdpr-art33"):
    return report_generate(
        organization=acme, actor=user, incident=incident, obligation=obligation(acme, key)
    )


def reports():
    with scopes_disabled():
        return list(Report.objects.order_by("pk"))


@pytest.fixture
def report(acme, breach, compliance_user):
    return generate(acme, compliance_user, breach)


@pytest.fixture
def regulators(acme, compliance_user):
    """A list with one member and one outside address."""
    with scopes_disabled():
        lst = DistributionList.objects.create(organization=acme, name="Regulators")
        DistributionRecipient.objects.create(
            organization=acme, distribution_list=lst, user=compliance_user
        )
        DistributionRecipient.objects.create(
            organization=acme, distribution_list=lst, name="Data Authority", email="dpa@example.eu"
        )
    return lst


# — access ————————————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_roles_without_export_compliance_get_404_everywhere_and_nothing_changes(
    acme, breach, report, regulators, make_member, login, role
):
    client = login(make_member(acme, role).user)
    for page in (
        url("report_list"),
        url("obligation_reports", breach),
        url("report_download", breach, report_id=report.pk),
        url("distribution_lists"),
        url("distribution_list_detail", pk=regulators.pk),
    ):
        assert client.get(page).status_code == 404, page
    assert client.post(url("report_generate", breach)).status_code == 404
    assert (
        client.post(
            url("report_send", breach), {"report": report.pk, "distribution_list": regulators.pk}
        ).status_code
        == 404
    )
    assert client.post(url("distribution_lists"), {"name": "Mine"}).status_code == 404
    assert len(reports()) == 1
    with scopes_disabled():
        assert not ReportDistribution.objects.exists()
        assert DistributionList.objects.count() == 1


def test_another_organisation_gets_404(acme, breach, report, stranger, login):
    client = login(stranger)
    assert client.get(url("report_list")).status_code == 404
    assert client.get(url("obligation_reports", breach)).status_code == 404
    assert client.get(url("report_download", breach, report_id=report.pk)).status_code == 404
    assert client.post(url("report_generate", breach)).status_code == 404
    assert len(reports()) == 1


def test_globex_compliance_cannot_reach_an_acme_report_through_its_own_org(
    acme, globex, breach, report, make_member, login
):
    client = login(make_member(globex, Role.COMPLIANCE).user)
    page = reverse(
        "compliance_reports:report_download",
        kwargs={
            "org_slug": "globex",
            "key": breach.key,
            "obligation_key": "gdpr-art33",
            "report_id": report.pk,
        },
    )
    assert client.get(page).status_code == 404


def test_a_restricted_incident_is_404_for_compliance_without_access(
    acme, breach, report, compliance_user, admin, login
):
    with scopes_disabled():
        Incident.objects.filter(pk=breach.pk).update(is_restricted=True)
    client = login(compliance_user)
    assert client.get(url("obligation_reports", breach)).status_code == 404
    assert client.get(url("report_download", breach, report_id=report.pk)).status_code == 404
    listed = client.get(url("report_list")).content.decode()
    assert f"/incidents/{breach.key}/" not in listed
    assert "No reports yet" in listed
    client.logout()
    assert login(admin).get(url("obligation_reports", breach)).status_code == 200


# — the obligation's reports page ——————————————————————————————————————————————————————


def test_the_obligation_page_shows_deadline_missing_data_and_generates(
    acme, breach, compliance_user, login
):
    client = login(compliance_user)
    page = client.get(url("obligation_reports", breach))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Notify the supervisory authority" in body
    assert "GDPR Art. 33(1)" in body
    assert "still missing" in body
    assert "Likely consequences of the breach" in body
    assert "No report generated yet" in body
    assert "Generate new version" in body

    response = client.post(url("report_generate", breach), follow=True)
    assert response.status_code == 200
    assert b"Version 1 generated." in response.content
    (report,) = reports()
    assert report.generated_by_id == compliance_user.pk
    assert report.version == 1
    assert b"Download v1" in response.content
    assert report.short_hash.encode() in response.content
    assert b"matches the current data" in response.content

    client.post(url("report_generate", breach))
    assert [r.version for r in reports()] == [1, 2]


def test_download_serves_the_stored_bytes(acme, breach, report, compliance_user, login):
    response = login(compliance_user).get(url("report_download", breach, report_id=report.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"] == f'attachment; filename="{breach.key}-gdpr_art33-v1.pdf"'
    )
    assert response.content == bytes(reports()[0].pdf)
    assert response.content.startswith(b"%PDF")


def test_download_of_another_obligations_report_is_404(
    acme, breach, report, compliance_user, login
):
    client = login(compliance_user)
    other = url("report_download", breach, key="dora-initial", report_id=report.pk)
    assert client.get(other).status_code == 404
    assert client.get(url("report_download", breach, report_id=report.pk + 999)).status_code == 404


def test_unknown_incident_or_obligation_is_404(acme, breach, compliance_user, login):
    client = login(compliance_user)
    assert client.get(url("obligation_reports", breach, key="no-such")).status_code == 404
    page = reverse(
        "compliance_reports:obligation_reports",
        kwargs={"org_slug": "acme", "key": "ACME-999", "obligation_key": "gdpr-art33"},
    )
    assert client.get(page).status_code == 404


# — the list ————————————————————————————————————————————————————————————————————————————


def test_the_list_is_empty_then_newest_first_and_filters(acme, breach, compliance_user, login):
    client = login(compliance_user)
    assert b"No reports yet" in client.get(url("report_list")).content
    generate(acme, compliance_user, breach)
    generate(acme, compliance_user, breach, "sox-evidence")
    body = client.get(url("report_list")).content.decode().split("<tbody>")[1]
    assert body.index("SOX incident evidence pack") < body.index("GDPR Art. 33 notification")
    with scopes_disabled():
        from compliance.models import Framework

        sox = Framework.objects.get(organization=acme, key="sox")
    only_sox = client.get(url("report_list"), {"framework": sox.pk}).content.decode()
    only_sox = only_sox.split("<tbody>")[1]
    assert "SOX incident evidence pack" in only_sox
    assert "GDPR Art. 33 notification" not in only_sox
    by_format = client.get(url("report_list"), {"format": "gdpr_art33"}).content.decode()
    by_format = by_format.split("<tbody>")[1]
    assert "GDPR Art. 33 notification" in by_format
    assert "SOX incident evidence pack" not in by_format
    nothing = client.get(url("report_list"), {"incident": "ACME-999"}).content
    assert b"No reports match these filters" in nothing
    bad = client.get(url("report_list"), {"format": "nonsense"})
    assert bad.status_code == 200
    assert b"Select a valid choice" in bad.content


def test_the_list_is_paginated_with_bounded_queries(
    acme, breach, compliance_user, login, django_assert_max_num_queries
):
    with scopes_disabled():
        first = generate(acme, compliance_user, breach)
        for version in range(2, 33):
            Report.objects.create(
                organization=acme,
                incident=breach,
                obligation=first.obligation,
                format=first.format,
                version=version,
                generated_by=compliance_user,
                content_hash=first.content_hash,
                pdf=b"%PDF-",
                pdf_sha256="0" * 64,
            )
    client = login(compliance_user)
    with django_assert_max_num_queries(12):
        response = client.get(url("report_list"))
    assert b"Page 1 of 2" in response.content


# — distribution ——————————————————————————————————————————————————————————————————————————


def test_sending_mails_the_pdf_as_an_attachment_and_records_it(
    acme, breach, report, regulators, compliance_user, login
):
    client = login(compliance_user)
    response = client.post(
        url("report_send", breach),
        {"report": report.pk, "distribution_list": regulators.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert b"on its way to 2 recipients" in response.content
    with scopes_disabled():
        (distribution,) = ReportDistribution.objects.all()
        assert distribution.sent_by_id == compliance_user.pk
        assert distribution.report_id == report.pk
        assert {r["email"] for r in distribution.recipients} == {
            "cora@acme.test",
            "dpa@example.eu",
        }
        deliveries = list(Delivery.objects.order_by("pk"))
    assert len(deliveries) == 2
    assert mail.outbox == []  # queued, sent by the delivery workers
    for delivery in deliveries:
        notify.deliver(delivery=delivery)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.subject == f"{breach.key} · {report.get_format_display()} · version 1"
        assert report.content_hash in message.body
        ((name, content, mimetype),) = message.attachments
        assert name == f"{breach.key}-gdpr_art33-v1.pdf"
        assert mimetype == "application/pdf"
        assert content == bytes(reports()[0].pdf)
        assert report.content_hash in " ".join(pdf_text(content).split())
    assert {m.to[0] for m in mail.outbox} == {"cora@acme.test", "dpa@example.eu"}
    page = client.get(url("obligation_reports", breach)).content.decode()
    assert "Regulators" in page
    assert "dpa@example.eu" in page
    assert "Sent" in page


def test_a_failed_delivery_is_retried_with_the_same_attachment(
    acme, breach, report, regulators, compliance_user, monkeypatch
):
    from compliance.reports.services import report_send

    report_send(
        organization=acme, actor=compliance_user, report=report, distribution_list=regulators
    )
    with scopes_disabled():
        delivery = Delivery.objects.get(target="dpa@example.eu")

    def down(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", down)
    failed = notify.deliver(delivery=delivery)
    assert failed.status == Delivery.Status.PENDING
    assert failed.attempts == 1
    monkeypatch.undo()
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)
    assert notify.sweep_deliveries(now=failed.next_attempt_at) >= 1
    sent = notify.deliver(delivery=delivery)
    assert sent.status == Delivery.Status.SENT
    assert mail.outbox[-1].attachments[0][1] == bytes(reports()[0].pdf)


def test_sending_to_an_empty_list_is_explained_and_records_nothing(
    acme, breach, report, compliance_user, login
):
    with scopes_disabled():
        empty = DistributionList.objects.create(organization=acme, name="Empty")
    response = login(compliance_user).post(
        url("report_send", breach), {"report": report.pk, "distribution_list": empty.pk}
    )
    assert response.status_code == 200
    assert b"This list has no one to send to." in response.content
    with scopes_disabled():
        assert not ReportDistribution.objects.exists()
        assert not Delivery.objects.exists()


def test_a_report_of_another_obligation_or_a_foreign_list_cannot_be_sent(
    acme, globex, breach, report, regulators, compliance_user, login
):
    other = generate(acme, compliance_user, breach, "dora-initial")
    with scopes_disabled():
        foreign = DistributionList.objects.create(organization=globex, name="Globex list")
    client = login(compliance_user)
    for data in (
        {"report": other.pk, "distribution_list": regulators.pk},
        {"report": report.pk, "distribution_list": foreign.pk},
        {"report": "x", "distribution_list": ""},
    ):
        response = client.post(url("report_send", breach), data)
        assert response.status_code == 200
        assert b"Select a valid choice" in response.content or b"required" in response.content
    with scopes_disabled():
        assert not ReportDistribution.objects.exists()


# — distribution list management ——————————————————————————————————————————————————————————


def test_compliance_manages_lists_members_and_outside_addresses(
    acme, frameworks, compliance_user, responder, login
):
    client = login(compliance_user)
    assert b"No distribution lists yet" in client.get(url("distribution_lists")).content
    with scopes_disabled():
        from compliance.models import Framework

        gdpr = Framework.objects.get(organization=acme, key="gdpr")
    response = client.post(url("distribution_lists"), {"name": "DPA", "default_for": gdpr.pk})
    with scopes_disabled():
        lst = DistributionList.objects.get(name="DPA")
    assert response.status_code == 302
    assert lst.default_for_id == gdpr.pk
    add = url("recipient_add", pk=lst.pk)
    assert client.post(add, {"member-user": responder.pk}).status_code == 302
    assert (
        client.post(
            add, {"address-name": "Authority", "address-email": "DPA@Example.eu"}
        ).status_code
        == 302
    )
    again = client.post(add, {"address-name": "Again", "address-email": "dpa@example.eu"})
    assert b"is on this list already" in again.content
    no_name = client.post(add, {"address-name": "", "address-email": "x@example.eu"})
    assert b"This field is required" in no_name.content
    bad = client.post(add, {"address-name": "X", "address-email": "not-an-address"})
    assert b"Enter a valid email address" in bad.content
    with scopes_disabled():
        addresses = sorted(r.address for r in lst.recipients.select_related("user"))
    assert addresses == ["dpa@example.eu", "rita@acme.test"]
    # A second default for the same framework takes the role over.
    client.post(url("distribution_lists"), {"name": "DPA 2", "default_for": gdpr.pk})
    with scopes_disabled():
        lst.refresh_from_db()
        assert lst.default_for_id is None
    duplicate = client.post(url("distribution_lists"), {"name": "dpa"})
    assert b"Another list has this name." in duplicate.content


def test_a_foreign_member_cannot_be_added(acme, globex, frameworks, compliance_user, login,
                                          stranger):  # fmt: skip
    with scopes_disabled():
        lst = DistributionList.objects.create(organization=acme, name="L")
    response = login(compliance_user).post(
        url("recipient_add", pk=lst.pk), {"member-user": stranger.pk}
    )
    assert b"Select a valid choice" in response.content
    with scopes_disabled():
        assert not lst.recipients.exists()


def test_the_default_list_is_preselected(acme, breach, report, regulators, compliance_user, login):
    with scopes_disabled():
        regulators.default_for = obligation(acme, "gdpr-art33").framework
        regulators.save()
    page = login(compliance_user).get(url("obligation_reports", breach)).content.decode()
    assert f'<option value="{regulators.pk}" selected>Regulators</option>' in page


def test_members_who_may_not_see_a_restricted_incident_are_skipped_and_recorded(
    acme, breach, regulators, admin, compliance_user, login
):
    with scopes_disabled():
        Incident.objects.filter(pk=breach.pk).update(is_restricted=True)
        breach = Incident.objects.get(pk=breach.pk)
    report = generate(acme, admin, breach)
    response = login(admin).post(
        url("report_send", breach),
        {"report": report.pk, "distribution_list": regulators.pk},
        follow=True,
    )
    assert b"on its way to 1 recipient " in response.content
    assert b"Skipped: Cora Compliance (no access)" in response.content
    with scopes_disabled():
        assert list(Delivery.objects.values_list("target", flat=True)) == ["dpa@example.eu"]
        (distribution,) = ReportDistribution.objects.all()
    assert {"name": "Cora Compliance", "reason": "no access", "skipped": True} in (
        distribution.recipients
    )
    assert b"skipped (no access)" in response.content


def test_the_obligation_page_reads_a_bounded_number_of_rows(
    acme, breach, report, regulators, compliance_user, login, django_assert_max_num_queries
):
    from compliance.reports.services import report_send

    for _ in range(3):
        generate(acme, compliance_user, breach)
        report_send(
            organization=acme, actor=compliance_user, report=report, distribution_list=regulators
        )
    client = login(compliance_user)
    with django_assert_max_num_queries(30):
        response = client.get(url("obligation_reports", breach))
    assert response.content.count(b"Download v") == 4


def test_a_member_who_may_not_see_personal_data_does_not_get_a_revealed_report(
    acme, breach, report, regulators, compliance_user, viewer
):
    from compliance.reports.services import report_send

    assert report.revealed  # generated by compliance staff: personal data shown
    with scopes_disabled():
        DistributionRecipient.objects.create(
            organization=acme, distribution_list=regulators, user=viewer
        )
    distribution = report_send(
        organization=acme, actor=compliance_user, report=report, distribution_list=regulators
    )
    with scopes_disabled():
        targets = set(Delivery.objects.values_list("target", flat=True))
    assert targets == {"cora@acme.test", "dpa@example.eu"}
    assert {"name": "Vera", "reason": "may not see personal data", "skipped": True} in (
        distribution.recipients
    )
