from django import template

from incidents.statuspage import selectors
from incidents.statuspage.models import MessageState
from tenancy.roles import Capability, can

register = template.Library()


@register.inclusion_tag("statuspage/partials/incident_panel.html", takes_context=True)
def statuspage_incident_panel(context, incident):
    """The incident page's external-communications box: the incident's external messages with
    their states, and a link to draft one for it. Rendered in the request's scope; the reader
    already sees the incident, so its messages are theirs to see."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    external = []
    may_draft = False
    if membership is not None and incident is not None:
        external = list(
            selectors.message_list(
                organization=request.org, user=request.user, membership=membership
            )
            .filter(incident=incident)
            .order_by("-created_at", "-pk")[:20]
        )
        may_draft = can(membership.role, Capability.UPDATE_INCIDENTS)
    return {
        "incident": incident,
        "request": request,
        "org": getattr(request, "org", None),
        "external_messages": external,
        "may_draft": may_draft,
        "published": sum(1 for m in external if m.state == MessageState.PUBLISHED),
    }
