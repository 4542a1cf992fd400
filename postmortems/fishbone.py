"""The Fishbone (Ishikawa) diagram as server-side SVG: the same markup on the page and in the PDF.

Six bones, three above and three below the spine, each with its category's causes written
along it; the effect sits in the head on the right. Text is escaped; nothing is fetched."""

from django.utils.html import escape

CATEGORIES = [
    ("people", "People"),
    ("process", "Process"),
    ("technology", "Technology"),
    ("environment", "Environment"),
    ("measurement", "Measurement"),
    ("materials", "Materials"),
]
WIDTH = 1240
BONE_DX = 120  # how far a bone leans back from where it meets the spine
LINE = 16  # px between two causes on a bone
MAX_CAUSE_CHARS = 34


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 1] + "…"


def render_svg(causes, *, effect: str, title: str = "Fishbone diagram") -> str:
    """`causes`: objects with `.category` (a key of CATEGORIES) and `.text`, or (category,
    text) pairs. Returns an <svg> element sized to its content."""
    by_category: dict[str, list[str]] = {key: [] for key, _ in CATEGORIES}
    for cause in causes:
        category, text = (
            (cause.category, cause.text) if hasattr(cause, "category") else (cause[0], cause[1])
        )
        if category in by_category and text.strip():
            by_category[category].append(_clip(text))
    most = max((len(v) for v in by_category.values()), default=0)
    bone = max(90, 40 + LINE * max(most, 1))  # vertical reach of a bone
    height = 2 * bone + 80
    spine_y = height // 2
    head_x = WIDTH - 200
    # Where the bones meet the spine: the leftmost leaves room for a full cause on its left.
    columns = [head_x - 640, head_x - 360, head_x - 80]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="fishbone" '
        'font-family="DejaVu Sans, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<line x1="20" y1="{spine_y}" x2="{head_x}" y2="{spine_y}" stroke="#1f2937" '
        'stroke-width="3"/>',
        f'<polygon points="{head_x},{spine_y - 40} {WIDTH - 10},{spine_y - 40} '
        f'{WIDTH - 10},{spine_y + 40} {head_x},{spine_y + 40}" fill="#fef3c7" '
        'stroke="#1f2937" stroke-width="2"/>',
    ]
    # The effect, wrapped to three lines in the head.
    words, lines, line = escape(" ".join(effect.split())).split(" "), [], ""
    for word in words:
        if len(line) + len(word) + 1 > 22 and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    lines = lines[:3]
    for i, text in enumerate(lines):
        y = spine_y - 8 * (len(lines) - 1) + 16 * i + 4
        parts.append(
            f'<text x="{head_x + 95}" y="{y}" text-anchor="middle" font-weight="bold">{text}</text>'
        )
    for index, (key, label) in enumerate(CATEGORIES):
        above = index < 3
        x_spine = columns[index % 3]
        x_end = x_spine - BONE_DX
        y_end = spine_y - bone if above else spine_y + bone
        parts.append(
            f'<line x1="{x_spine}" y1="{spine_y}" x2="{x_end}" y2="{y_end}" stroke="#374151" '
            'stroke-width="2"/>'
        )
        label_y = y_end - 8 if above else y_end + 18
        parts.append(
            f'<text x="{x_end}" y="{label_y}" text-anchor="middle" font-weight="bold" '
            f'fill="#1e3a8a" data-category="{key}">{label}</text>'
        )
        items = by_category[key] or ["—"]
        for n, text in enumerate(items):
            # Spread the causes along the bone, from its far end towards the spine.
            share = (n + 1) / (len(items) + 1)
            y = y_end + (spine_y - y_end) * share
            x = x_end + (x_spine - x_end) * share
            parts.append(
                f'<text x="{x - 6:.0f}" y="{y + 4:.0f}" text-anchor="end" fill="#111827">'
                f"{escape(text)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
