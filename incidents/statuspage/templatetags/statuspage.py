from django import template

register = template.Library()


@register.inclusion_tag("statuspage/partials/incident_panel.html", takes_context=True)
def statuspage_incident_panel(context, incident):
    """The incident page's external-communications box."""
    return {"incident": incident, "request": context.get("request")}
