from django import template

from incidents.channels import selectors, services
from incidents.channels.models import Provider
from incidents.channels.providers import settings_for
from tenancy.roles import Capability, can

register = template.Library()


@register.inclusion_tag("incident_channels/partials/incident_panel.html", takes_context=True)
def incident_channels_panel(context, incident):
    """The incident page's channels box: war room, Slack, bridge. Three queries."""
    membership = context.get("membership")
    role = membership.role if membership else None
    channels = selectors.channel_list(incident=incident)
    settings = settings_for(incident.organization_id)
    have = {channel.provider for channel in channels}
    labels = dict(Provider.choices)
    missing = [
        labels[name]
        for name in services._wanted(incident, settings)
        if name not in have and name != Provider.WAR_ROOM
    ]
    return {
        "incident": incident,
        "request": context.get("request"),
        "org": context.get("org"),
        "csrf_token": context.get("csrf_token"),
        "channels": channels,
        "war_room": next((c for c in channels if c.provider == Provider.WAR_ROOM), None),
        "stats": selectors.war_room_stats(incident=incident),
        "missing": missing,
        "may_update": can(role, Capability.UPDATE_INCIDENTS),
        "may_manage_settings": can(role, Capability.MANAGE_INTEGRATIONS),
    }
