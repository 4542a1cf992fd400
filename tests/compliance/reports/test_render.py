"""Every report format renders to a PDF that carries its mandatory fields, the organisation's
header, the obligation, and the version and content hash in the footer of every page; masking
follows `reveal`; content never makes the renderer fetch anything."""

import re

import pytest
from django_scopes import scopes_disabled

from compliance.models import Obligation, ReportFormat
from compliance.pdf import render_pdf
from compliance.reports.content import FORMATS, build_content, content_hash, spec_for
from compliance.reports.services import render_report_html, report_generate
from incidents.models import Incident
from tenancy.scoping import org_scope
from tests.compliance.reports.conftest import obligation, pdf_pages, pdf_text

pytestmark = pytest.mark.django_db


def flat(text: str) -> str:
    return " ".join(text.split())


def default_obligation_keys():
    from compliance.frameworks import FRAMEWORKS

    return [item["key"] for spec in FRAMEWORKS for item in spec["obligations"]]


def test_every_report_format_has_a_default_obligation_to_test_it_with():
    from compliance.frameworks import FRAMEWORKS

    formats = {item["report_format"] for spec in FRAMEWORKS for item in spec["obligations"]}
    assert formats == {value for value in ReportFormat.values if value}
    # The formats the issue names have their own layout, with their own mandatory fields.
    for named in ("gdpr_art33", "hipaa_breach", "sec_8k", "dora_initial", "dora_intermediate",
                  "dora_final", "sox_evidence"):  # fmt: skip
        assert named in FORMATS
        assert FORMATS[named].fixed


@pytest.mark.parametrize("key", default_obligation_keys())
def test_each_format_renders_its_mandatory_fields_header_and_footer(
    key, acme, breach, compliance_user
):
    ob = obligation(acme, key)
    report = report_generate(
        organization=acme, actor=compliance_user, incident=breach, obligation=ob
    )
    text = flat(pdf_text(report.pdf))
    spec = spec_for(ob.report_format)
    assert spec.title in text
    assert "Acme Payments" in text
    assert "Europe/Berlin" in text
    assert breach.key in text
    assert ob.reference in text
    for label, _ in spec.fixed:
        assert label in text, label
    for section in ob.field_map:
        assert section in text, section
    if ob.deadline_unit != "none":
        assert "Deadline" in text
    # Version and content hash in the footer of every page.
    pages = pdf_pages(report.pdf)
    assert pages
    for page in pages:
        assert f"Version {report.version} · content hash sha256 {report.content_hash}" in flat(page)


def test_the_gdpr_notification_shows_values_deadline_and_marks_what_is_missing(
    acme, breach, compliance_user
):
    report = report_generate(
        organization=acme,
        actor=compliance_user,
        incident=breach,
        obligation=obligation(acme, "gdpr-art33"),
    )
    text = flat(pdf_text(report.pdf))
    # Times in the organisation's zone (Berlin, CET in March).
    assert "2026-03-02 10:30 CET" in text  # aware_at 09:30 UTC
    assert "2026-03-05 10:30 CET" in text  # the deadline
    assert "1200" in text
    assert "names, e-mail addresses" in text
    # The impact and the measures are not filled in: marked, and listed as missing.
    assert "not yet known" in text
    assert "Likely consequences of the breach" in report.missing_fields
    assert "Measures taken or proposed" in report.missing_fields
    # The same field in a mapped section ("Impact summary") is not named twice.
    assert "Impact summary" not in report.missing_fields
    assert "Incomplete:" in text


def test_the_sox_pack_carries_the_timeline_and_the_audit_entries(acme, breach, compliance_user):
    report = report_generate(
        organization=acme,
        actor=compliance_user,
        incident=breach,
        obligation=obligation(acme, "sox-evidence"),
    )
    text = flat(pdf_text(report.pdf))
    assert "Timeline" in text
    assert "Declared" in text
    assert "Audit entries" in text
    assert "create Incident: " in text
    assert "title: Customer export bucket public" in text
    # A new row's empty reverse relations are not listed as changes.
    assert "incidents.TimelineEvent.None" not in text


def render(acme, incident, key, reveal):
    with org_scope(acme):
        ob = Obligation.objects.get(key=key)
        content = build_content(
            organization=acme,
            incident=incident,
            obligation=ob,
            report_format=ob.report_format,
            reveal=reveal,
        )
    html = render_report_html(
        content,
        version=1,
        content_hash=content_hash(content),
        generated_at=incident.created_at,
        generated_by="Test",
    )
    return content, render_pdf(html)


def test_masked_rendering_hides_personal_data_and_says_so(acme, breach):
    """Every role that can generate reports (compliance, admin) may see sensitive data, so the
    masked path is tested on the rendering function."""
    content, pdf = render(acme, breach, "gdpr-art33", reveal=False)
    text = flat(pdf_text(pdf))
    assert "dpo@acme.test" not in text
    assert "1234 5678" not in text
    assert "[e-mail hidden]" in text
    assert "[phone hidden]" in text
    assert "masked in this version" in text
    revealed, pdf = render(acme, breach, "gdpr-art33", reveal=True)
    assert "dpo@acme.test" in flat(pdf_text(pdf))
    assert content_hash(content) != content_hash(revealed)


def test_sensitive_custom_fields_are_hidden_when_masked(acme, breach):
    from tests.incidents.factories import CustomFieldDefinitionFactory

    CustomFieldDefinitionFactory(
        organization=acme, key="patient_ids", label="Patient ids", is_sensitive=True
    )
    with scopes_disabled():
        Incident.objects.filter(pk=breach.pk).update(custom_fields={"patient_ids": "P-99881"})
        ob = Obligation.objects.get(organization=acme, key="gdpr-art33")
        ob.field_map = {**ob.field_map, "Patients": ["custom:patient_ids"]}
        ob.save()
        breach = Incident.objects.get(pk=breach.pk)
    _, masked = render(acme, breach, "gdpr-art33", reveal=False)
    masked_text = flat(pdf_text(masked))
    assert "Patient ids [hidden]" in masked_text
    assert "P-99881" not in masked_text
    _, shown = render(acme, breach, "gdpr-art33", reveal=True)
    assert "P-99881" in flat(pdf_text(shown))


@pytest.mark.parametrize(
    "payload",
    [
        '<img src="http://127.0.0.1:9/tracker.png">',
        '<img src="file:///etc/passwd">',
        '<link rel=stylesheet href="file:///etc/passwd">',
        '<div style="background: url(http://127.0.0.1:9/x)">x</div>',
    ],
)
def test_content_cannot_make_the_pdf_fetch_anything(acme, breach, payload, monkeypatch):
    """Incident text is escaped by the template, and even raw HTML reaching the renderer only
    gets Vigil's static files: the fetcher is asked and refuses."""
    import compliance.pdf as pdf_module

    asked = []
    real = pdf_module.static_only_fetcher

    def spy(url, *args, **kwargs):
        asked.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(pdf_module, "static_only_fetcher", spy)
    with scopes_disabled():
        Incident.objects.filter(pk=breach.pk).update(description=payload)
        breach = Incident.objects.get(pk=breach.pk)
    content, pdf = render(acme, breach, "gdpr-art33", reveal=True)
    # Escaped: the markup is shown as text, nothing is fetched.
    assert asked == []
    shown = flat(pdf_text(pdf))
    assert "src=" in shown or "style=" in shown or "href=" in shown  # shown as text
    assert "root:" not in shown
    # Raw markup handed straight to the renderer: the fetcher refuses every URL.
    raw = render_pdf(f"<html><body>{payload}<p>after</p></body></html>")
    assert "after" in pdf_text(raw)
    assert asked
    assert all(re.match(r"^(http|file):", url) for url in asked)
    assert "root:" not in pdf_text(raw)


def test_an_incident_without_regulatory_facts_renders_with_everything_marked(
    acme, frameworks, responder, compliance_user
):
    from tests.incidents.factories import declare

    bare = declare(acme, responder, title="Bare incident")
    report = report_generate(
        organization=acme,
        actor=compliance_user,
        incident=bare,
        obligation=obligation(acme, "hipaa-individuals"),
    )
    text = flat(pdf_text(report.pdf))
    assert "Deadline not yet known" in text  # not tracked on this incident
    assert "Type of protected health information involved not yet known" in text
    assert "Number of individuals affected" in report.missing_fields
    assert "Covered entity Acme Payments" in text
