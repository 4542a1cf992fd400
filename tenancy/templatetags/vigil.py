"""Template helpers every page uses: explicit times and human durations (UI.md)."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


def human_duration(delta: timedelta | None) -> str:
    """`1 h 12 min`, `3 d 4 h`, `45 s` — never raw seconds."""
    if delta is None:
        return "—"
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@register.filter
def duration(value) -> str:
    return human_duration(value)


@register.filter
def reltime(value):
    """`12 min ago` with the absolute time and the zone in a tooltip."""
    if value is None:
        return "—"
    now = timezone.now()
    delta = now - value
    text = (
        f"{human_duration(delta)} ago"
        if delta.total_seconds() >= 0
        else (f"in {human_duration(delta)}")
    )
    if abs(delta.total_seconds()) < 45:
        text = "just now"
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        text,
    )


@register.filter
def abstime(value):
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{}</time>', value.isoformat(), local.strftime("%Y-%m-%d %H:%M %Z")
    )
