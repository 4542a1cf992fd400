"""Reads for compliance staff, always for one organisation."""

from django.db.models import QuerySet

from tenancy.models import AuditEntry, Organization


def audit_entry_list(*, organization: Organization) -> QuerySet[AuditEntry]:
    """The organisation's audit trail, newest first."""
    return (
        AuditEntry.objects.filter(organization=organization)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")
    )
