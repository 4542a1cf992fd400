"""The PDF of an access review: organisation header, period, every line with its decision,
reviewer, time and reason, and in the footer a content hash of those decisions. Before the
sign-off the document is marked as a draft."""

import hashlib
import json

from django.template.loader import render_to_string
from django.utils import timezone

from compliance.pdf import render_pdf
from compliance.reviews.models import Campaign, ReviewLine
from tenancy.scoping import org_scope


def _lines(campaign: Campaign) -> list[ReviewLine]:
    with org_scope(campaign.organization_id):
        return list(
            ReviewLine.objects.filter(campaign=campaign)
            .select_related("reviewer", "decided_by")
            .order_by("kind", "subject", "incident_key", "pk")
        )


def _row(line: ReviewLine) -> dict:
    return {
        "id": line.pk,
        "kind": line.kind,
        "subject": line.subject,
        "role": line.role,
        "incident": line.incident_key,
        "permission": line.permission,
        # People by id: a name or e-mail changed later must not "tamper" a signed review.
        "reviewer": line.reviewer_id,
        "decision": line.decision,
        "action": line.action,
        "new_role": line.new_role,
        "reason": line.reason,
        "outcome": line.outcome,
        "decided_by": line.decided_by_id,
        "decided_at": line.decided_at.isoformat() if line.decided_at else "",
    }


def canonical(campaign: Campaign, lines: list[ReviewLine]) -> bytes:
    """The decisions as canonical JSON: what the content hash covers."""
    content = {
        "organization": campaign.organization_id,
        "campaign": campaign.pk,
        "period": [campaign.period_start.isoformat(), campaign.period_end.isoformat()],
        "lines": [_row(line) for line in lines],
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def content_hash_of(campaign: Campaign, lines: list[ReviewLine] | None = None) -> str:
    return hashlib.sha256(
        canonical(campaign, _lines(campaign) if lines is None else lines)
    ).hexdigest()


def render_html(campaign: Campaign, *, now=None) -> str:
    lines = _lines(campaign)
    organization = campaign.organization
    with timezone.override(organization.tzinfo):
        return _render(campaign, lines, organization, now)


def _render(campaign, lines, organization, now) -> str:
    return render_to_string(
        "compliance_reviews/campaign_pdf.html",
        {
            "org": organization,
            "campaign": campaign,
            "lines": lines,
            "content_hash": campaign.signed_hash or content_hash_of(campaign, lines),
            "is_draft": campaign.is_open,
            "generated_at": timezone.localtime(now or timezone.now(), organization.tzinfo),
            "tz": organization.tzinfo,
            "counts": {
                decision.label: sum(1 for line in lines if line.decision == decision)
                for decision in ReviewLine.Decision
            },
        },
    )


def render(campaign: Campaign, *, now=None) -> bytes:
    """The campaign's PDF (a draft until it is signed off)."""
    return render_pdf(render_html(campaign, now=now))


def filename(campaign: Campaign) -> str:
    suffix = "" if not campaign.is_open else "-draft"
    return f"{campaign.organization.slug}-access-review-{campaign.period_end:%Y-%m-%d}{suffix}.pdf"
