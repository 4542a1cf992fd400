from django import template

register = template.Library()


@register.inclusion_tag("postmortems/partials/similar_incidents.html", takes_context=True)
def similar_incidents_panel(context, incident):
    """ "Similar past incidents" on the incident page (knowledge base)."""
    return {"incident": incident, "request": context.get("request")}
