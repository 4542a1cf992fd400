from django import template
from django.utils.html import format_html

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
    """A custom field's display value on `incident`, masked when the reader may not see it
    (the view sets `definition.masked`)."""
    value = (incident.custom_fields or {}).get(definition.key)
    if value is None or value == "":
        return "—"
    if getattr(definition, "masked", False):
        return "••••• (hidden)"
    if definition.field_type == "boolean":
        return "Yes" if value else "No"
    if definition.field_type == "user":
        users = getattr(definition, "user_names", {})
        return users.get(value, f"user #{value}")
    return value
