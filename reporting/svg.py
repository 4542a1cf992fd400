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


# Constant <style> elements: the Content-Security-Policy allows them by hash (config/settings.py
# CSP_SVG_STYLE_HASHES), so any change here needs a new hash there (tests/web/test_csp.py).
BAR_CHART_STYLE = (
    # Prefixed classes: the page's own .bar and .num rules would apply inside the SVG too
    # (CSS `width` overrides a rect's width attribute).
    "<style>.vc-bar{fill:#2563eb}a:hover .vc-bar,a:focus .vc-bar{fill:#1e40af}"
    ".vc-label,.vc-num{font:13px system-ui,sans-serif;fill:#1f2937}"
    "a .vc-num{text-decoration:underline;fill:#1d4ed8}</style>"
)
LINE_CHART_STYLE = (
    "<style>.vc-grid{stroke:#e5e7eb}.vc-axis{font:11px system-ui,sans-serif;fill:#4b5563}"
    ".vc-line{fill:none;stroke:#2563eb;stroke-width:2}.vc-dot{fill:#2563eb}"
    ".vc-flag{fill:#dc2626}a:hover .vc-dot,a:focus .vc-dot{fill:#1e40af}"
    ".vc-trend{stroke:#6b7280;stroke-width:1.5;stroke-dasharray:5 4}"
    ".vc-band{fill:#dbeafe}</style>"
)


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
    style = BAR_CHART_STYLE
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


@dataclass(frozen=True)
class ChartPoint:
    """One bucket of a line chart: its axis label, its value (None: no value), the value in
    words, where it links, and whether it is flagged; `band`: the baseline range drawn
    behind it, if any."""

    label: str
    value: float | None
    text: str
    href: str | None = None
    flagged: bool = False
    band: tuple[float, float] | None = None


def line_chart(
    points: list[ChartPoint],
    *,
    title: str,
    trend: tuple[float, float] | None = None,
    axis=str,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """A line chart over equal buckets: a marker per value (linked when it has an href), an
    optional dashed trend line y = trend[0] + trend[1] · index, and an optional shaded band per
    bucket. `axis` writes a y-axis value (e.g. a duration)."""
    n = max(len(points), 1)
    candidates = [p.value for p in points if p.value is not None]
    candidates += [p.band[1] for p in points if p.band]
    if trend:
        candidates += [trend[0], trend[0] + trend[1] * (n - 1)]
    largest = max(candidates, default=0) or 1
    # Room on the left for the longest y-axis label ("12 h 29 min"): ~6.5 px a character.
    longest = max(len(str(axis(largest * fraction))) for fraction in (0, 0.5, 1))
    left, right, top, bottom = max(40, round(14 + 6.5 * longest)), 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(index: float) -> float:
        return round(left + plot_w * (index + 0.5) / n, 1)

    def y(value: float) -> float:
        return round(top + plot_h * (1 - max(value, 0) / largest), 1)

    parts = []
    for fraction in (0, 0.5, 1):
        value = largest * fraction
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="vc-grid"></line>'
                '<text x="{}" y="{}" class="vc-axis" text-anchor="end">{}</text>',
                left,
                width - right,
                y(value),
                y(value),
                left - 6,
                y(value) + 4,
                axis(value),
            )
        )
    step = max(1, -(-n // 8))  # at most about eight axis labels
    slot = plot_w / n
    for index, point in enumerate(points):
        if point.band:
            low, high = point.band
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="vc-band"></rect>',
                    round(x(index) - slot / 2, 1),
                    y(high),
                    round(slot, 1),
                    round(y(low) - y(high), 1),
                )
            )
        if index % step == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" class="vc-axis" text-anchor="middle">{}</text>',
                    x(index),
                    height - bottom + 16,
                    point.label,
                )
            )
    line = " ".join(f"{x(i)},{y(p.value)}" for i, p in enumerate(points) if p.value is not None)
    if line:
        parts.append(format_html('<polyline points="{}" class="vc-line"></polyline>', line))
    if trend:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" class="vc-trend"><title>{}</title></line>',
                x(0),
                y(trend[0]),
                x(n - 1),
                y(trend[0] + trend[1] * (n - 1)),
                "Least-squares trend line",
            )
        )
    for index, point in enumerate(points):
        if point.value is None:
            continue
        marker = format_html(
            '<circle cx="{}" cy="{}" r="{}" class="{}"></circle>',
            x(index),
            y(point.value),
            5 if point.flagged else 4,
            "vc-dot vc-flag" if point.flagged else "vc-dot",
        )
        if point.href:
            marker = format_html(
                '<a href="{}" aria-label="{}: {}">{}</a>',
                point.href,
                point.label,
                point.text,
                marker,
            )
        parts.append(format_html("<g><title>{}: {}</title>{}</g>", point.label, point.text, marker))
    style = LINE_CHART_STYLE
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
        format_html_join("", "{}", ((part,) for part in parts)),
    )
