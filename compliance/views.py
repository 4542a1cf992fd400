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


# — Audit hash chain ("Verify now") and audit-trail export ——————————————————————————————————
# Roles without the capability get 404 here, like a page that does not exist.

from django.conf import settings as _settings  # noqa: E402
from django.contrib import messages  # noqa: E402
from django.db import transaction  # noqa: E402
from django.http import Http404, HttpResponse  # noqa: E402
from django.shortcuts import redirect  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

from compliance import audit_chain, audit_export  # noqa: E402
from tenancy.roles import can  # noqa: E402


def _require(request, capability: Capability) -> None:
    if not can(request.membership.role, capability):
        raise Http404("No such page.")


@require_POST
@org_view()
def audit_verify(request, org_slug):
    """ "Verify now": recompute the organisation's audit hash chain. Short chains are verified
    within the request; long ones (over AUDIT_VERIFY_INLINE_MAX entries) by a Celery task."""
    _require(request, Capability.MANAGE_COMPLIANCE)
    from compliance.tasks import verify_audit_chain_task
    from tenancy.models import AuditEntry

    size = AuditEntry.objects.filter(organization=request.org).count()
    if size > getattr(_settings, "AUDIT_VERIFY_INLINE_MAX", 250_000):
        org_id, user_id = request.org.pk, request.user.pk
        transaction.on_commit(lambda: verify_audit_chain_task.delay(org_id, user_id))
        messages.info(
            request,
            f"Verification started for {size:,} entries; the result appears here in a minute.",
        )
        return redirect("compliance:audit_list", org_slug=request.org.slug)
    result = audit_chain.verify_and_record(request.org, actor=request.user, origin="web")
    if result.ok:
        messages.success(request, f"Chain intact: {result.count:,} entries verified.")
    else:
        messages.error(
            request,
            f"Chain broken at entry #{result.broken.entry_id} ({result.broken.kind}).",
        )
    return redirect("compliance:audit_list", org_slug=request.org.slug)


def _export_context(form) -> dict:
    return {"form": form, "max_range_days": audit_export.MAX_RANGE_DAYS}


@org_view()
def audit_export_view(request, org_slug):
    """The audit trail of one incident or a date range, as PDF or CSV (GET form; errors
    are shown on this page with status 200)."""
    _require(request, Capability.EXPORT_COMPLIANCE)
    form = audit_export.AuditExportForm(
        request.GET or None,
        organization=request.org,
        user=request.user,
        membership=request.membership,
    )
    if form.is_bound and form.is_valid():
        export = audit_export.build_export(form)
        if form.cleaned_data["format"] == "csv":
            response = HttpResponse(export.csv_text, content_type="text/csv; charset=utf-8")
            filename = f"{export.filename_stem}.csv"
        elif len(export.rows) > audit_export.MAX_PDF_ROWS:
            form.add_error(
                None,
                f"{len(export.rows):,} entries are too many for a PDF (at most "
                f"{audit_export.MAX_PDF_ROWS:,}); choose CSV or a shorter range.",
            )
            return render(request, "compliance/audit_export.html", _export_context(form))
        else:
            pdf = audit_export.export_pdf(export, generated_by=request.user)
            response = HttpResponse(pdf, content_type="application/pdf")
            filename = f"{export.filename_stem}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-SHA256"] = export.content_hash
        audit_export.record_export(
            export, actor=request.user, file_format=form.cleaned_data["format"]
        )
        return response
    return render(request, "compliance/audit_export.html", _export_context(form))
