from django import template

register = template.Library()


@register.inclusion_tag("incident_channels/partials/incident_panel.html", takes_context=True)
def incident_channels_panel(context, incident):
    """The incident page's channels box: war room, Slack, bridge."""
    return {"incident": incident, "request": context.get("request")}
