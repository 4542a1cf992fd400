"""Template helpers for post-mortem documents, and the incident page's post-mortem line."""

from datetime import timedelta

from django import template
from django.utils import timezone

from postmortems.models import PostMortem
from postmortems.policy import decision_of
from tenancy.roles import Capability, can
from tenancy.templatetags.vigil import human_duration

register = template.Library()


@register.filter
def minutes_text(value) -> str:
    """`1 h 12 min` from a number of minutes."""
    if value is None:
        return "—"
    return human_duration(timedelta(minutes=int(value)))


@register.filter
def local_input(value) -> str:
    """A datetime as the value of a datetime-local input, in the page's time zone."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


@register.inclusion_tag("postmortems/document/incident_panel.html", takes_context=True)
def postmortem_incident_panel(context, incident):
    """The incident page's post-mortem line: the decision and its reason, the document's
    status and link, and "Request a post-mortem"."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    postmortem = PostMortem.objects.filter(incident_id=incident.pk).first()
    return {
        "incident": incident,
        "org": context.get("org"),
        "decision": decision_of(incident),
        "postmortem": postmortem,
        "may_request": membership is not None
        and can(membership.role, Capability.UPDATE_INCIDENTS)
        and incident.status not in ("dismissed", "duplicate"),
        "csrf_token": context.get("csrf_token"),
    }
