"""Rich text: the free text people write (incident descriptions, post-mortem sections, comments,
status updates) is Markdown, rendered to HTML that cannot carry script (docs/browser-security.md).

Two layers: Python-Markdown with raw HTML switched off (an `<img onerror=…>` comes out as text)
and only extensions that add no attributes, then nh3 with a small allowlist, so whatever the
Markdown layer lets through (a `javascript:` link, a `data:` URL) is removed anyway."""

import html
import re

import markdown
import nh3

from compliance import masking

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "a",
    "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

# Masking's labels look like Markdown link text ("[e-mail hidden]"); escaped, a label followed by
# "(…)" cannot become a link.
_MASK_LABEL = re.compile(r"\[([a-zA-Z -]+ hidden)\]")


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(
        # nl2br: a line break stays a line break, as in the plain text people are used to;
        # toc only for baselevel: "# Title" becomes <h3>, below the page's own headings.
        extensions=["fenced_code", "tables", "sane_lists", "nl2br", "toc"],
        extension_configs={"toc": {"baselevel": 3}},
        output_format="html",
    )
    # No raw HTML, block or inline: it is shown as text.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


def sanitise(raw_html: str) -> str:
    """`raw_html` reduced to the allowlist: other tags dropped (their text kept, script and
    style dropped with their content), every attribute but a link's href removed, links only
    to http, https and mailto and opened without referrer or opener."""
    return nh3.clean(
        raw_html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Sanitised HTML for the Markdown `text` (empty for none)."""
    if not text:
        return ""
    text = _MASK_LABEL.sub(r"\\[\1\\]", str(text))
    return sanitise(_markdown().convert(text))


def plain_text(rendered: str) -> str:
    """The text a reader sees in `rendered` HTML."""
    return html.unescape(nh3.clean(rendered, tags=set()))


def render_masked(text, *, reveal: bool) -> tuple[str, bool]:
    """(HTML, is_markdown) for `text` after masking personal data, unless `reveal`.

    Masking runs first, on what the author wrote. Markdown could still join what masking saw
    apart ("bob*@*example.org" shows as bob@example.org): if the rendered text holds personal
    data that masking would hide, the masked text is shown as plain text instead."""
    masked = masking.mask_text(text, reveal=reveal)
    rendered = render_markdown(masked)
    if not reveal:
        seen = plain_text(rendered)
        if masking.mask_text(seen) != seen:
            return masked, False
    return rendered, True
