"""`{% load richtext %}{{ text|markdown:incident }}`: free text as sanitised Markdown, with
personal data masked first exactly as `|mask:incident` would (tenancy/richtext.py)."""

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tenancy.richtext import render_masked

register = template.Library()


@register.filter
def markdown(text, subject=None):
    """Rendered Markdown in a <div class="richtext">; masked unless `subject` (the incident)
    is revealed to this reader, like `|mask`. No subject masks."""
    if not text:
        return ""
    reveal = subject is True or getattr(subject, "reveal", False) is True
    rendered, is_markdown = render_masked(text, reveal=reveal)
    # nh3's output holds only allowlisted tags and attributes; the fallback is escaped text.
    body = mark_safe(rendered) if is_markdown else linebreaksbr(rendered, autoescape=True)  # noqa: S308
    return format_html('<div class="richtext">{}</div>', body)
