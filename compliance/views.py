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


# — unmasking (masking on every surface: compliance/masking.py, compliance/unmask.py) ————————

from django.contrib import messages  # noqa: E402 — this block is appended to the module
from django.core.exceptions import ValidationError  # noqa: E402
from django.shortcuts import redirect  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.http import url_has_allowed_host_and_scheme  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

from compliance import unmask  # noqa: E402
from incidents.selectors import incident_get  # noqa: E402


def _unmask_back(request, incident):
    """Back where the reveal was asked for (a page of this organisation), else the incident."""
    target = request.POST.get("next") or ""
    if target.startswith(f"/o/{request.org.slug}/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("incidents:incident_detail", org_slug=request.org.slug, key=incident.key)


@require_POST
@org_view(Capability.VIEW_SENSITIVE)
def incident_unmask(request, org_slug, key):
    """Reveal one incident's masked data to the requester for a while; audited."""
    incident = incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    try:
        grant = unmask.incident_unmask(
            incident=incident, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        until = timezone.localtime(grant.expires_at).strftime("%H:%M")
        messages.success(
            request, f"{incident.key} is unmasked for you until {until}; this is recorded."
        )
    return _unmask_back(request, incident)


@require_POST
@org_view(Capability.VIEW_SENSITIVE)
def incident_remask(request, org_slug, key):
    """End the requester's reveal of one incident now."""
    incident = incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    unmask.incident_remask(incident=incident, actor=request.user)
    messages.success(request, f"{incident.key} is masked again.")
    return _unmask_back(request, incident)
