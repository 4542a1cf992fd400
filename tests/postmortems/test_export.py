"""Exports of one post-mortem: Markdown and PDF (checked with poppler's pdftotext/pdffonts),
with the post-mortem page's visibility rules."""

import subprocess
from datetime import date

import pytest

from postmortems import export
from postmortems.models import PostMortem
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import declare
from tests.postmortems.test_kb_support import postmortem, resolved_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(acme, acme_admin):
    incident = resolved_incident(acme, acme_admin.user, "Checkout errors after deploy")
    return postmortem(
        incident,
        title="Checkout errors after the 14:00 deploy",
        summary="Card payments failed for 38 minutes. <script>alert(1)</script>",
        customer_impact="About 4% of checkouts failed.",
        business_impact="Lost revenue estimated at 12k EUR.",
        detection="The error-rate alert fired after 6 minutes.",
        response="The commander paged the payments team.",
        recovery="Rolled back release 2026.11.3.",
        contributing_factors="No canary stage for the payments service.",
        what_went_well="The rollback took 4 minutes.",
        lessons_learned="Canaries catch this class of bug.",
        timeline=[
            {
                "at": "2026-11-20T14:02:00+00:00",
                "text": "Error rate | alert fired",
                "source": "incident",
            },
            {"at": "2026-11-20T14:40:00+00:00", "text": "Rollback complete", "source": "added"},
        ],
        whys=[
            ("Why did checkouts fail?", "The new release rejected valid card tokens"),
            ("Why was the release not caught?", "The payments service has no canary stage"),
        ],
        causes=[
            ("process", "No canary for payments"),
            ("technology", "Token format change"),
            ("measurement", "Alert threshold too lax"),
        ],
        tags=["payments", "deploys"],
        actions=[
            {
                "title": "Add a canary stage | payments",
                "kind": "prevent",
                "priority": "p1",
                "due_date": date(2026, 12, 15),
                "ticket_key": "OPS-12",
                "ticket_url": "https://tracker.example/OPS-12",
            }
        ],
    )


def url(key: str, extension: str, org: str = "acme") -> str:
    return f"/o/{org}/postmortems/{key}/export.{extension}"


# — Markdown ———————————————————————————————————————————————————————————————————————————


def test_the_markdown_export_is_an_attachment_with_every_section(document, acme_admin, login):
    key = document.incident.key

    response = login(acme_admin.user).get(url(key, "md"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{key}-postmortem-v1.md"'
    text = response.content.decode()
    assert text.startswith(f"# {key} · Checkout errors after the 14:00 deploy\n")
    for heading in (
        "## Summary",
        "## Customer impact",
        "## Business impact",
        "## Detection",
        "## Response",
        "## Recovery",
        "## Timeline",
        "## 5 Whys",
        "## Fishbone (causes by category)",
        "### Process",
        "## Contributing factors",
        "## What went well",
        "## Lessons learned",
        "## Action items",
    ):
        assert f"\n{heading}\n" in text, heading
    assert "1. **Why?** Why did checkouts fail?  \n   **Because:** The new release" in text
    assert "### Measurement\n\n- Alert threshold too lax\n" in text
    assert "### Environment\n\n- —\n" in text
    assert "| Error rate \\| alert fired |" in text
    assert "| Add a canary stage \\| payments | Prevent | P1 — urgent |" in text
    assert "[OPS-12](<https://tracker.example/OPS-12>)" in text
    assert "- **Tags:** deploys, payments" in text or "- **Tags:** payments, deploys" in text
    assert "\\<script>alert(1)\\</script>" in text
    assert "<script>" not in text.replace("\\<script>", "")


def test_an_empty_section_says_it_was_not_written(acme, acme_admin):
    pm = postmortem(resolved_incident(acme, acme_admin.user, "Bare"), status="draft")

    with org_scope(acme):
        text = export.render_markdown(export.gather(pm, organization=acme))

    assert "## Detection\n\n_Not written._" in text
    assert "## Action items\n\n_No action items._" in text


# — PDF ————————————————————————————————————————————————————————————————————————————————


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "export.pdf"
    path.write_bytes(content)
    return subprocess.run(  # noqa: S603 — our own file, a fixed program
        ["/usr/bin/pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout


def pdf_fonts(content: bytes, tmp_path) -> str:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(content)
    return subprocess.run(  # noqa: S603 — as above
        ["/usr/bin/pdffonts", str(path)], capture_output=True, check=True, text=True
    ).stdout


def test_the_pdf_renders_every_section_the_whys_and_the_fishbone(
    document, acme_admin, login, tmp_path
):
    key = document.incident.key

    response = login(acme_admin.user).get(url(key, "pdf"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{key}-postmortem-v1.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content, tmp_path)
    for heading in (
        "Summary",
        "Customer impact",
        "Business impact",
        "Detection",
        "Response",
        "Recovery",
        "Timeline",
        "5 Whys",
        "Fishbone",
        "Contributing factors",
        "What went well",
        "Lessons learned",
        "Action items",
    ):
        assert heading in text, heading
    pages = text.split("\f")
    assert "Acme Payments" in pages[0].strip().splitlines()[0]  # the running header
    assert f"{key} · post-mortem v1" in pages[0].strip().splitlines()[0]
    assert "Page 1 of 2" in pages[0]
    assert "Generated by Vigil on" in pages[0]
    assert "Acme Payments" in pages[1].strip().splitlines()[0]
    assert "Why did checkouts fail?" in text
    assert "The payments service has no canary stage" in text
    assert "No canary for payments" in text  # a fishbone cause (in the SVG and the list)
    assert "Alert threshold too lax" in text
    assert "Rollback complete" in text
    assert "Add a canary stage | payments" in text
    assert "<script>alert(1)</script>" in text  # shown as text, not run or dropped


def test_the_pdf_uses_only_dejavu_fonts_and_references_nothing_outside(document, acme, tmp_path):
    with org_scope(acme):
        data = export.gather(document, organization=acme)
        html = export.render_pdf_html(data)
        content = export.render_pdf(data)

    fonts = [line.split()[0] for line in pdf_fonts(content, tmp_path).splitlines()[2:]]
    assert fonts
    assert all("DejaVu" in name for name in fonts), fonts
    assert "src=" not in html
    assert "href=" not in html
    assert "url(" not in html
    assert "<svg" in html  # the fishbone, inline


def test_the_pdf_fetcher_refuses_every_url():
    with pytest.raises(export.RemoteAssetRefused):
        export._refuse_every_url("http://127.0.0.1:9/logo.png")


def test_an_unpublished_post_mortem_exports_with_a_warning(acme, acme_admin, login, tmp_path):
    pm = postmortem(resolved_incident(acme, acme_admin.user, "Draft one"), status="in_review")

    response = login(acme_admin.user).get(url(pm.incident.key, "pdf"))

    assert "This post-mortem is not published yet" in pdf_text(response.content, tmp_path)


# — who may export ———————————————————————————————————————————————————————————————————————


def test_another_tenants_member_gets_404_for_both_exports(document, globex_admin, login):
    client = login(globex_admin.user)

    for extension in ("md", "pdf"):
        assert client.get(url(document.incident.key, extension)).status_code == 404


def test_a_restricted_incidents_post_mortem_is_404_without_access(
    acme, acme_admin, make_member, login
):
    responder = make_member(acme, Role.RESPONDER)
    granted = make_member(acme, Role.VIEWER)
    incident = resolved_incident(
        acme, acme_admin.user, "Breach", is_restricted=True, commander=granted.user
    )
    postmortem(incident)

    assert login(responder.user).get(url(incident.key, "md")).status_code == 404
    assert login(responder.user).get(url(incident.key, "pdf")).status_code == 404
    assert login(granted.user).get(url(incident.key, "md")).status_code == 200


def test_an_incident_without_a_post_mortem_or_a_wrong_key_is_404(acme, acme_admin, login):
    incident = declare(acme, acme_admin.user, title="No review yet")
    client = login(acme_admin.user)

    assert client.get(url(incident.key, "md")).status_code == 404
    assert client.get(url("ACME-999", "pdf")).status_code == 404
    assert client.get(url("../../x", "md")).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(document, client):
    response = client.get(url(document.incident.key, "md"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_export_of_a_published_one_has_its_version(document, acme, acme_admin, login):
    from django_scopes import scopes_disabled

    with scopes_disabled():
        PostMortem.objects.filter(pk=document.pk).update(version=3)

    response = login(acme_admin.user).get(url(document.incident.key, "md"))

    assert "version 3" in response.content.decode()
    assert response["Content-Disposition"].endswith('-postmortem-v3.md"')
