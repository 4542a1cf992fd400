"""The access review as PDF (read back with poppler's pdftotext): organisation header, period,
every line with its decision, reviewer, time and reason, the content hash in the footer; a
draft until signed off."""

import re
import subprocess

import pytest
from django.urls import reverse

from compliance.reviews import export, services
from tests.compliance.reviews.conftest import line_for, lines_of, start

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "review.pdf"
    path.write_bytes(data)
    result = subprocess.run(  # noqa: S603 — a fixed local binary on a file we wrote
        ["/usr/bin/pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def decided(world, acme, admin, cora):
    """A review with Rita revoked, everything else certified."""
    campaign = start(acme)
    rita = line_for(campaign, "rita@acme.test")
    services.line_revoke(line=rita, actor=rita.reviewer, reason="Moved to the sales team")
    for line in lines_of(campaign):
        if line.pk != rita.pk:
            services.line_certify(line=line, actor=line.reviewer)
    return campaign


def test_the_draft_pdf_says_draft_and_lists_every_line(decided, tmp_path, acme):
    text = pdf_text(export.render(decided), tmp_path)
    words = flat(text)

    assert "Acme Payments" in words
    assert "DRAFT" in words
    assert f"Period {decided.period_start:%Y-%m-%d} – {decided.period_end:%Y-%m-%d}" in words
    for line in lines_of(decided):
        assert line.subject in words
        assert line.decided_by.email in words
        assert f"{line.decided_at.astimezone(acme.tzinfo):%Y-%m-%d %H:%M}" in words
    assert "REVOKED" in words
    assert words.count("CERTIFIED") == len(lines_of(decided)) - 1
    assert "Moved to the sales team" in words
    assert "Removed from the organisation." in words
    assert f"Content hash (SHA-256): {export.content_hash_of(decided)}" in words


def test_the_signed_off_pdf_names_the_signer_and_the_stored_hash(decided, cora, tmp_path):
    signed = services.campaign_sign_off(campaign=decided, actor=cora)
    words = flat(pdf_text(export.render(signed), tmp_path))

    assert "DRAFT" not in words
    assert "Signed off by Cora (cora@acme.test)" in words
    assert f"Content hash (SHA-256): {signed.signed_hash}" in words
    assert "Page 1 of" in words


def test_the_hash_covers_the_decisions(decided, admin):
    before = export.content_hash_of(decided)
    assert export.content_hash_of(decided) == before  # stable
    line = lines_of(decided)[0]
    from django_scopes import scopes_disabled

    with scopes_disabled():
        line.reason = "edited behind the review's back"
        line.save(update_fields=["reason"])
    assert export.content_hash_of(decided) != before


def test_content_cannot_make_the_pdf_fetch_anything(world, acme, tmp_path):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")
    services.line_revoke(
        line=line,
        actor=line.reviewer,
        reason='<img src="http://198.51.100.7/x.png"> <link rel=stylesheet href="file:///etc/passwd">',
    )
    words = flat(pdf_text(export.render(campaign), tmp_path))

    assert '<img src="http://198.51.100.7/x.png">' in words  # printed as text, not fetched


def test_the_pdf_download(decided, admin, login):
    url = reverse("compliance_reviews:campaign_pdf", kwargs={"org_slug": "acme", "pk": decided.pk})
    response = login(admin).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "-draft.pdf" in response["Content-Disposition"]
