"""Server-rendered SVG charts: no JavaScript, no CDN, the same markup in a page or a PDF.
Every label is escaped; every bar (and its number) can link to the incidents behind it."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

ROW = 28
BAR = 18
LABEL_WIDTH = 130
NUMBER_WIDTH = 48


@dataclass(frozen=True)
class ChartBar:
    label: str
    count: int
    href: str | None = None


def _shorten(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    bars: list[ChartBar],
    *,
    title: str,
    width: int = 440,
    label_width: int = LABEL_WIDTH,
    label_limit: int = 18,
) -> SafeString:
    """A horizontal bar chart, one row per bar, longest bar = the largest count. Labels longer
    than `label_limit` characters are shortened; widen `label_width` for long ones."""
    height = max(len(bars), 1) * ROW + 8
    plot = width - label_width - NUMBER_WIDTH
    largest = max((bar.count for bar in bars), default=0) or 1
    rows = []
    for index, bar in enumerate(bars):
        y = 4 + index * ROW
        length = max(round(plot * bar.count / largest), 2 if bar.count else 0)
        shapes = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" rx="2" class="vc-bar"></rect>'
            '<text x="{}" y="{}" class="vc-num">{}</text>',
            label_width,
            y + (ROW - BAR) // 2,
            length,
            BAR,
            label_width + length + 6,
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
                '<g><title>{}: {}</title><text x="{}" y="{}" class="vc-label" text-anchor="end">{}'
                "</text>{}</g>",
                bar.label,
                bar.count,
                label_width - 8,
                y + ROW // 2 + 5,
                _shorten(bar.label, label_limit),
                shapes,
            )
        )
    style = (
        # Prefixed classes: the page's own .bar and .num rules would apply inside the SVG too
        # (CSS `width` overrides a rect's width attribute).
        "<style>.vc-bar{fill:#2563eb}a:hover .vc-bar,a:focus .vc-bar{fill:#1e40af}"
        ".vc-label,.vc-num{font:13px system-ui,sans-serif;fill:#1f2937}"
        "a .vc-num{text-decoration:underline;fill:#1d4ed8}</style>"
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
