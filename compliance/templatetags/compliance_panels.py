from django import template
from django.utils import timezone

from tenancy.roles import Capability, can

register = template.Library()


@register.inclusion_tag("compliance/partials/regulatory_panel.html", takes_context=True)
def regulatory_panel(context, incident):
    """The incident's regulatory obligations on its page, for compliance staff and admins only
    (one query). Renders nothing elsewhere."""
    from compliance.models import IncidentObligation, ObligationStatus

    request = context.get("request")
    membership = getattr(request, "membership", None)
    if (
        membership is None
        or incident is None
        or not can(membership.role, Capability.MANAGE_COMPLIANCE)
    ):
        return {"show": False}
    rows = list(
        IncidentObligation.objects.filter(incident_id=incident.pk)
        .exclude(status=ObligationStatus.WITHDRAWN)
        .select_related("obligation__framework")
        .order_by("due_at", "pk")
    )
    now = timezone.now()
    for row in rows:
        row.overdue = row.is_open and row.due_at is not None and row.due_at <= now
    return {"show": True, "incident": incident, "rows": rows, "org": request.org}
