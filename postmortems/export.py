"""A post-mortem as Markdown and as PDF (WeasyPrint), from the same gathered facts.

The PDF is rendered from `postmortems/export/postmortem_pdf.html` with its print CSS: the
organisation's name in the page header, page numbers and the generation time in the footer,
the fishbone SVG inline. Only Debian's DejaVu fonts are named and nothing is fetched: the URL
fetcher refuses every URL, so a stray reference cannot reach the network or the disk."""

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from compliance.masking import mask_text
from incidents.models import ImpactPeriod, Incident
from postmortems.fishbone import CATEGORIES, render_svg
from postmortems.models import ActionItem, FishboneCause, PostMortem, PostMortemApproval
from tenancy.models import Organization

# (field, heading) in document order; the 5 Whys, fishbone and action items have their own.
SECTIONS_BEFORE_ANALYSIS = [
    ("summary", "Summary"),
    ("customer_impact", "Customer impact"),
    ("business_impact", "Business impact"),
    ("detection", "Detection"),
    ("response", "Response"),
    ("recovery", "Recovery"),
]
SECTIONS_AFTER_ANALYSIS = [
    ("contributing_factors", "Contributing factors"),
    ("what_went_well", "What went well"),
    ("lessons_learned", "Lessons learned"),
]
NOT_WRITTEN = "Not written."


@dataclass
class TimelineRow:
    at: datetime | None
    text: str
    source: str


@dataclass
class Export:
    """Everything both formats show, read once (inside the organisation's scope)."""

    organization: Organization
    postmortem: PostMortem
    incident: Incident
    sections_before: list[tuple[str, str]]
    sections_after: list[tuple[str, str]]
    timeline: list[TimelineRow]
    whys: list
    causes_by_category: list[tuple[str, list[str]]]
    fishbone_svg: str
    action_items: list[ActionItem]
    approvals: list[PostMortemApproval]
    tags: list[str]
    impact_total: timedelta | None
    impact_periods: int
    generated_at: datetime = field(default_factory=timezone.now)


def _timeline(entries) -> list[TimelineRow]:
    rows = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        at = parse_datetime(str(entry.get("at") or ""))
        rows.append(
            TimelineRow(at=at, text=str(entry.get("text") or ""), source=entry.get("source") or "")
        )
    return rows


def _masked_copy(instance, fields, reveal: bool):
    """`instance` itself when revealed, else a copy (never saved) with `fields` masked."""
    if reveal:
        return instance
    masked = copy.copy(instance)
    for name in fields:
        setattr(masked, name, mask_text(getattr(instance, name), reveal=False))
    return masked


def gather(postmortem: PostMortem, *, organization: Organization, reveal: bool = False) -> Export:
    """Read the post-mortem's parts (call inside `org_scope(organization)`), every free text
    masked through compliance.masking unless the reader revealed the incident (`reveal`)."""
    incident = (
        Incident.objects.select_related("severity", "category", "primary_service", "commander")
        .filter(pk=postmortem.incident_id)
        .get()
    )
    incident = _masked_copy(incident, ["title", "description"], reveal)
    postmortem = _masked_copy(
        postmortem,
        ["title"] + [f for f, _ in SECTIONS_BEFORE_ANALYSIS + SECTIONS_AFTER_ANALYSIS],
        reveal,
    )
    causes = [
        _masked_copy(c, ["text"], reveal)
        for c in FishboneCause.objects.filter(postmortem=postmortem)
    ]
    by_category = [
        (label, [c.text for c in causes if c.category == key]) for key, label in CATEGORIES
    ]
    periods = list(ImpactPeriod.objects.filter(incident=incident))
    now = timezone.now()
    total = (
        sum(((p.ended_at or now) - p.started_at for p in periods), timedelta()) if periods else None
    )
    return Export(
        organization=organization,
        postmortem=postmortem,
        incident=incident,
        sections_before=[(h, getattr(postmortem, f)) for f, h in SECTIONS_BEFORE_ANALYSIS],
        sections_after=[(h, getattr(postmortem, f)) for f, h in SECTIONS_AFTER_ANALYSIS],
        timeline=[
            TimelineRow(at=row.at, text=mask_text(row.text, reveal=reveal), source=row.source)
            for row in _timeline(postmortem.timeline)
        ],
        whys=[_masked_copy(w, ["why", "because"], reveal) for w in postmortem.whys.all()],
        causes_by_category=by_category,
        fishbone_svg=render_svg(causes, effect=incident.title),
        action_items=[
            _masked_copy(item, ["title"], reveal)
            for item in ActionItem.objects.filter(postmortem=postmortem).select_related(
                "owner", "team"
            )
        ],
        approvals=list(
            PostMortemApproval.objects.filter(
                postmortem=postmortem, version=postmortem.version
            ).select_related("approver")
        ),
        tags=[t.name for t in postmortem.tags.all()],
        impact_total=total,
        impact_periods=len(periods),
    )


def filename(export: Export, extension: str) -> str:
    return f"{export.incident.key}-postmortem-v{export.postmortem.version}.{extension}"


# — Markdown ———————————————————————————————————————————————————————————————————————————


def _local(value: datetime | None) -> str:
    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def _text(value: str) -> str:
    """A section as Markdown: the author's Markdown kept, raw HTML neutralised (`\\<`), so a
    renderer shows `<script>` as text."""
    value = (value or "").replace("\r\n", "\n").strip()
    return value.replace("<", "\\<") if value else f"_{NOT_WRITTEN}_"


def _cell(value) -> str:
    """One table cell: one line, pipes escaped."""
    text = " ".join(str(value or "").split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<") or "—"


def _inline(value) -> str:
    return " ".join(str(value or "").split()).replace("<", "\\<")


def _duration(value: timedelta | None) -> str:
    from tenancy.templatetags.vigil import human_duration

    return human_duration(value) if value is not None else "—"


def render_markdown(export: Export) -> str:
    pm, incident = export.postmortem, export.incident
    lines = [
        f"# {incident.key} · {_inline(pm.title)}",
        "",
        f"Post-mortem of {export.organization.name}, {pm.get_status_display().lower()}"
        f" (version {pm.version}).",
        "",
        f"- **Incident:** {incident.key} — {_inline(incident.title)}",
        f"- **Severity:** {incident.severity.name if incident.severity_id else '—'}",
        f"- **Category:** {_inline(incident.category) or '—'}",
        f"- **Service:** {_inline(incident.primary_service) or '—'}",
        f"- **Detected:** {_local(incident.detected_at)}",
        f"- **Resolved:** {_local(incident.resolved_at)}",
        f"- **Impact:** {_duration(export.impact_total)} in {export.impact_periods} period(s)",
        f"- **Owner:** {_inline(pm.owner.display_name) if pm.owner_id else '—'}",
        f"- **Published:** {_local(pm.published_at)}",
        f"- **Tags:** {', '.join(_inline(t) for t in export.tags) or '—'}",
    ]
    if export.approvals:
        verdicts = ", ".join(
            f"{_inline(a.approver.display_name)} ({a.get_decision_display().lower()},"
            f" {_local(a.decided_at)})"
            for a in export.approvals
        )
        lines.append(f"- **Approvals:** {verdicts}")
    for heading, text in export.sections_before:
        lines += ["", f"## {heading}", "", _text(text)]

    lines += ["", "## Timeline", ""]
    if export.timeline:
        lines += ["| Time | Event |", "| --- | --- |"]
        lines += [f"| {_local(row.at)} | {_cell(row.text)} |" for row in export.timeline]
    else:
        lines.append(f"_{NOT_WRITTEN}_")

    lines += ["", "## 5 Whys", ""]
    if export.whys:
        for n, step in enumerate(export.whys, start=1):
            lines.append(
                f"{n}. **Why?** {_inline(step.why)}  \n   **Because:** {_inline(step.because)}"
            )
    else:
        lines.append(f"_{NOT_WRITTEN}_")

    lines += ["", "## Fishbone (causes by category)", ""]
    for label, texts in export.causes_by_category:
        lines.append(f"### {label}")
        lines.append("")
        lines += [f"- {_inline(t)}" for t in texts] or ["- —"]
        lines.append("")
    lines.pop()

    for heading, text in export.sections_after:
        lines += ["", f"## {heading}", "", _text(text)]

    lines += ["", "## Action items", ""]
    if export.action_items:
        lines += [
            "| Action | Kind | Priority | Owner | Team | Due | Status | Ticket |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for item in export.action_items:
            ticket = item.ticket_key or ""
            if item.ticket_url:
                ticket = f"[{_cell(ticket or item.ticket_url)}](<{item.ticket_url}>)"
            lines.append(
                "| "
                + " | ".join(
                    [
                        _cell(item.title),
                        item.get_kind_display(),
                        item.get_priority_display(),
                        _cell(item.owner.display_name if item.owner_id else ""),
                        _cell(item.team.name if item.team_id else ""),
                        item.due_date.isoformat() if item.due_date else "—",
                        item.get_status_display(),
                        ticket or "—",
                    ]
                )
                + " |"
            )
    else:
        lines.append("_No action items._")
    lines += [
        "",
        "---",
        f"_Exported from Vigil on {_local(export.generated_at)}._",
        "",
    ]
    return "\n".join(lines)


# — PDF ————————————————————————————————————————————————————————————————————————————————


class RemoteAssetRefused(Exception):
    pass


def _refuse_every_url(url, *args, **kwargs):
    """WeasyPrint's URL fetcher: the PDF template embeds everything, so any fetch is a bug."""
    raise RemoteAssetRefused(f"The post-mortem PDF fetches nothing (asked for {url!r}).")


def _fetcher():
    """`_refuse_every_url` in the shape the installed WeasyPrint wants: recent versions (70
    here) call `url_fetcher._fail_on_errors` when a fetch fails, so a plain function that
    raises crashed the render; a `URLFetcher` subclass makes WeasyPrint skip the refused URL
    with a warning. Older versions take the function. Nothing is ever opened."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # older WeasyPrint
        return _refuse_every_url

    class RefuseEveryURL(URLFetcher):
        def fetch(self, url, headers=None):
            return _refuse_every_url(url)

    return RefuseEveryURL()


def render_pdf_html(export: Export) -> str:
    return render_to_string(
        "postmortems/export/postmortem_pdf.html",
        {
            "e": export,
            "pm": export.postmortem,
            "incident": export.incident,
            "org": export.organization,
        },
    )


def render_pdf(export: Export) -> bytes:
    from django.conf import settings
    from weasyprint import HTML

    html = render_pdf_html(export)
    # A local base URL so relative references resolve to nothing remote; the fetcher refuses
    # them anyway.
    return HTML(string=html, base_url=str(settings.BASE_DIR), url_fetcher=_fetcher()).write_pdf()
