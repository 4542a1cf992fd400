"""The knowledge base on other pages: `{% similar_incidents_panel incident %}` (incident page)."""

from django import template

from postmortems.similar import postmortem_url, similar_incidents

register = template.Library()


@register.inclusion_tag("postmortems/partials/similar_incidents.html", takes_context=True)
def similar_incidents_panel(context, incident):
    """ "Similar past incidents" on the incident page: up to five resolved or closed incidents
    with a published post-mortem that reads like this one, visible to the reader (one query).
    Renders nothing outside an organisation request (e-mails, exports)."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    org = getattr(request, "org", None)
    if request is None or membership is None or org is None or incident is None:
        return {"show": False}
    similar = list(similar_incidents(incident=incident, user=request.user, membership=membership))
    for other in similar:
        other.postmortem_link = postmortem_url(org.slug, other.key)
    return {
        "show": True,
        "incident": incident,
        "similar": similar,
        "org": org,
        "request": request,
    }
