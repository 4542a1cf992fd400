from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from compliance import masking

register = template.Library()


@register.simple_tag
def severity_badge(severity):
    """`SEV-2` as a badge whose text carries the meaning; colour only reinforces it."""
    if severity is None:
        return "—"
    return format_html(
        '<span class="sev sev-{}" title="{}">{}</span>',
        severity.level,
        severity.description,
        severity.name,
    )


@register.simple_tag
def status_pill(incident):
    return format_html(
        '<span class="status status-{}">{}</span>', incident.status, incident.get_status_display()
    )


@register.filter
def custom_value(incident, definition):
    """A custom field's display value on `incident`: a sensitive field is hidden and personal
    data in text is masked unless the incident is revealed to this reader (`incident.reveal`,
    set by the view from compliance.unmask; missing means masked)."""
    value = (incident.custom_fields or {}).get(definition.key)
    if value is None or value == "":
        return "—"
    reveal = getattr(incident, "reveal", False) is True
    if definition.is_sensitive and not reveal:
        return "••••• (hidden)"
    if definition.field_type == "boolean":
        return "Yes" if value else "No"
    if definition.field_type == "user":
        users = getattr(definition, "user_names", {})
        return users.get(value, f"user #{value}")
    return masking.mask_value(value, sensitive=False, reveal=reveal)


@register.simple_tag
def sla_cell(incident):
    """The list's SLA column: breached, or the nearest due time (urgent within 15 min)."""
    from django.utils import timezone

    from tenancy.templatetags.vigil import human_duration

    if getattr(incident, "sla_breached", False):
        return mark_safe('<span class="sla sla-breached">Breached</span>')  # noqa: S308
    due = getattr(incident, "sla_due", None)
    if due is None:
        return "—"
    left = due - timezone.now()
    phase = (getattr(incident, "sla_phase", "") or "").replace("acknowledge", "ack")
    urgent = left.total_seconds() <= 15 * 60
    text = f"{phase} in {human_duration(left)}" if left.total_seconds() > 0 else f"{phase} due now"
    return format_html(
        '<span class="sla{}" title="{}">{}</span>',
        " sla-soon" if urgent else "",
        timezone.localtime(due).strftime("%Y-%m-%d %H:%M %Z"),
        text,
    )


@register.inclusion_tag("incidents/partials/sla_clock.html")
def sla_clock(timer, now):
    """One phase's clock: met, running (time left), paused, or breached (by how much)."""
    from tenancy.templatetags.vigil import human_duration

    left = timer.due_at - now
    state = timer.state
    if state == "met":
        text = f"met in {human_duration(timer.met_at - timer.started_at)}"
        if timer.breached_at:
            text = f"met {human_duration(timer.met_at - timer.due_at)} late"
    elif state == "breached":
        text = f"breached by {human_duration(now - timer.due_at)}"
    elif state == "paused":
        text = f"paused: {timer.pause_reason}"
    elif state == "stopped":
        text = "stopped"
    elif left.total_seconds() <= 0:
        text = "due now"
    else:
        text = f"{human_duration(left)} left"
    urgent = state == "running" and left.total_seconds() <= 15 * 60
    return {"timer": timer, "text": text, "state": state, "urgent": urgent}


@register.simple_tag
def status_due(deadline, now=None):
    """The next status update's deadline: `in 12 min`, or `overdue by 3 min` styled to grab
    attention, with the absolute time (and zone) in the tooltip. Never colour-only."""
    from django.utils import timezone

    from tenancy.templatetags.vigil import human_duration

    if deadline is None:
        return format_html('<span class="muted" data-testid="next-update">{}</span>', "none due")
    now = now or timezone.now()
    left = deadline.due_at - now
    absolute = timezone.localtime(deadline.due_at).strftime("%Y-%m-%d %H:%M %Z")
    if left.total_seconds() <= 0:
        return format_html(
            '<strong class="status-due overdue" data-testid="next-update" title="due {}">'
            "overdue by {}</strong>",
            absolute,
            human_duration(left),
        )
    soon = deadline.remind_at <= now
    return format_html(
        '<span class="status-due{}" data-testid="next-update" title="due {}">'
        'due in {} <span class="muted">({})</span></span>',
        " soon" if soon else "",
        absolute,
        human_duration(left),
        timezone.localtime(deadline.due_at).strftime("%H:%M %Z"),
    )


@register.filter
def lateness(update):
    """A status update's cadence adherence in words."""
    from datetime import timedelta

    from tenancy.templatetags.vigil import human_duration

    if update.late_seconds is None:
        return "no cadence"
    if update.late_seconds == 0:
        return "on time"
    return f"{human_duration(timedelta(seconds=update.late_seconds))} late"
