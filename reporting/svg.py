"""Server-rendered SVG charts: no JavaScript, no CDN, the same markup in a page or a PDF.
Every label is escaped; every bar (and its number) can link to the incidents behind it."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

ROW = 28
BAR = 18
LABEL_WIDTH = 160
NUMBER_WIDTH = 48


@dataclass(frozen=True)
class ChartBar:
    label: str
    count: int
    href: str | None = None


def _shorten(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(bars: list[ChartBar], *, title: str, width: int = 560) -> SafeString:
    """A horizontal bar chart, one row per bar, longest bar = the largest count."""
    height = max(len(bars), 1) * ROW + 8
    plot = width - LABEL_WIDTH - NUMBER_WIDTH
    largest = max((bar.count for bar in bars), default=0) or 1
    rows = []
    for index, bar in enumerate(bars):
        y = 4 + index * ROW
        length = max(round(plot * bar.count / largest), 2 if bar.count else 0)
        shapes = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" rx="2" class="bar"></rect>'
            '<text x="{}" y="{}" class="num">{}</text>',
            LABEL_WIDTH,
            y + (ROW - BAR) // 2,
            length,
            BAR,
            LABEL_WIDTH + length + 6,
            y + ROW // 2 + 5,
            bar.count,
        )
        if bar.href:
            shapes = format_html(
                '<a href="{}" aria-label="{}: {}">{}</a>',
                bar.href,
                bar.label,
                bar.count,
                shapes,
            )
        rows.append(
            format_html(
                '<g><title>{}: {}</title><text x="{}" y="{}" class="label" text-anchor="end">{}'
                "</text>{}</g>",
                bar.label,
                bar.count,
                LABEL_WIDTH - 8,
                y + ROW // 2 + 5,
                _shorten(bar.label),
                shapes,
            )
        )
    style = (
        "<style>.bar{fill:#2563eb}a:hover .bar,a:focus .bar{fill:#1e40af}"
        ".label,.num{font:13px system-ui,sans-serif;fill:#1f2937}"
        "a .num{text-decoration:underline}</style>"
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{}" height="{}" '
        'viewBox="0 0 {} {}" role="group" aria-label="{}"><title>{}</title>{}{}</svg>',
        width,
        height,
        width,
        height,
        title,
        title,
        mark_safe(style),  # noqa: S308 — a constant
        format_html_join("", "{}", ((row,) for row in rows)),
    )
