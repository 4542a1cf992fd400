"""Reads for compliance staff, always for one organisation."""

from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from tenancy.models import AuditEntry, Membership, Organization, User


def _incident_related_models() -> list:
    """Audited models that hang off an incident (a field named `incident` pointing at it)."""
    from incidents.models import Incident

    related = []
    for model in apps.get_models():
        if model is Incident or not auditlog.contains(model):
            continue
        field = next((f for f in model._meta.concrete_fields if f.name == "incident"), None)
        if field is not None and field.related_model is Incident:
            related.append(model)
    return related


def about_incidents(incident_ids) -> Q:
    """Audit entries about these incidents or about their related rows (roles, timeline
    events, SLA timers, post-mortem, compliance facts … anything with an `incident` field)."""
    from incidents.models import Incident

    content_types = ContentType.objects.get_for_models(Incident, *_incident_related_models())
    condition = Q(content_type=content_types.pop(Incident), object_id__in=incident_ids)
    for model, content_type in content_types.items():
        rows = model._base_manager.filter(incident_id__in=incident_ids).values("pk")
        condition |= Q(content_type=content_type, object_id__in=rows)
    return condition


def hidden_incident_ids(
    *, organization: Organization, user: User, membership: Membership | None
) -> list[int]:
    """The organisation's incidents `user` may not see (restricted, not granted)."""
    from incidents.models import Incident
    from incidents.selectors import incident_list

    visible = incident_list(organization=organization, user=user, membership=membership)
    return list(
        Incident.objects.filter(organization=organization)
        .exclude(pk__in=visible.values("pk"))
        .values_list("pk", flat=True)
    )


def audit_entry_list(
    *,
    organization: Organization,
    user: User | None = None,
    membership: Membership | None = None,
) -> QuerySet[AuditEntry]:
    """The organisation's audit trail, newest first. Given the reader (`user`), entries about
    restricted incidents they may not see — and about those incidents' rows — are left out,
    as in the audit-trail export."""
    entries = AuditEntry.objects.filter(organization=organization)
    if user is not None:
        hidden = hidden_incident_ids(organization=organization, user=user, membership=membership)
        if hidden:
            entries = entries.exclude(about_incidents(hidden))
    return entries.select_related("actor", "content_type").order_by("-timestamp", "-pk")
