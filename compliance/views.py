from django.core.paginator import Paginator
from django.shortcuts import render

from compliance.filters import AuditEntryFilterSet
from compliance.selectors import audit_entry_list
from tenancy.access import org_view
from tenancy.roles import Capability

AUDIT_PAGE_SIZE = 50


@org_view(Capability.VIEW_AUDIT_TRAIL)
def audit_list(request, org_slug):
    """Who changed what, and when: the organisation's audit trail, filterable."""
    filterset = AuditEntryFilterSet(
        request.GET, queryset=audit_entry_list(organization=request.org), request=request
    )
    entries = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode()}
    return render(request, "compliance/audit_list.html", context)
