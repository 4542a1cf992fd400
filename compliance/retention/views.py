"""Retention pages: policies and storage, legal holds, the purge preview and run, receipts.
Compliance staff and admins only (MANAGE_COMPLIANCE); everyone else gets 404."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from compliance.frameworks import ensure_frameworks
from compliance.models import RecordType
from compliance.records import REGISTRY
from compliance.retention import services
from compliance.retention.forms import (
    LegalHoldForm,
    LegalHoldReleaseForm,
    PurgeRunForm,
    RetentionPolicyForm,
    WhatIfForm,
)
from compliance.retention.models import LegalHold, PurgeReceipt, RetentionPolicy
from tenancy.access import org_view
from tenancy.roles import Capability

RECEIPT_PAGE_SIZE = 50


# Members without `manage_compliance`: the page does not exist (404), as on every compliance page.
manages_compliance = org_view(Capability.MANAGE_COMPLIANCE, hidden=True)


def _posted(request):
    """The POST data for a bound form (even when empty), None for a GET."""
    return request.POST if request.method == "POST" else None


def _overview_url(org) -> str:
    return reverse("compliance_retention:overview", kwargs={"org_slug": org.slug})


@manages_compliance
def overview(request, org_slug):
    """Policies per record type with the frameworks' minimums, storage, what-if, holds and the
    latest receipts."""
    org = request.org
    ensure_frameworks(org.pk)
    policies = {p.record_type: p for p in RetentionPolicy.objects.all()}
    sizes = {s.retained.key: s for s in services.storage(org)}
    rows = []
    for retained in services.ordered_types():
        minimum = services.retention_minimum(org, retained.key)
        policy = policies.get(retained.key)
        rows.append(
            {
                "retained": retained,
                "type_label": RecordType(retained.key).label,
                "policy": policy,
                "policy_text": services.describe_days(policy.days) if policy else "",
                "minimum": minimum,
                "below_minimum": bool(policy and minimum and policy.days < minimum.days),
                "storage": sizes[retained.key],
            }
        )
    what_if, what_if_form = None, WhatIfForm(request.GET or None, prefix="whatif")
    if request.GET and what_if_form.is_valid():
        what_if = services.what_if(
            org,
            record_type=what_if_form.cleaned_data["record_type"],
            days=what_if_form.total_days,
        )
    holds = LegalHold.objects.select_related(
        "custodian", "created_by", "released_by"
    ).prefetch_related("incidents", "services")
    context = {
        "rows": rows,
        "what_if_form": what_if_form,
        "what_if": what_if,
        "active_holds": [h for h in holds if h.is_active],
        "released_holds": [h for h in holds if not h.is_active][:10],
        "receipts": PurgeReceipt.objects.select_related("run_by")[:10],
    }
    return render(request, "compliance_retention/overview.html", context)


@manages_compliance
def policy_edit(request, org_slug, record_type):
    """Set (or remove) the policy of one record type."""
    if record_type not in REGISTRY:
        raise Http404("No such record type.")
    org = request.org
    ensure_frameworks(org.pk)
    policy = RetentionPolicy.objects.filter(record_type=record_type).first()
    minimum = services.retention_minimum(org, record_type)
    if request.method == "POST" and "remove" in request.POST:
        services.retention_policy_remove(organization=org, record_type=record_type)
        messages.success(request, f"{RecordType(record_type).label}: no policy now, kept forever.")
        return redirect(_overview_url(org))
    initial = {"days": policy.days, "action": policy.action} if policy else {}
    form = RetentionPolicyForm(
        _posted(request), organization=org, record_type=record_type, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.retention_policy_save(
                organization=org,
                actor=request.user,
                record_type=record_type,
                days=form.total_days,
                action=form.cleaned_data["action"],
                duration_text=form.duration_text,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{RecordType(record_type).label}: kept {form.duration_text} "
                f"({form.total_days} days).",
            )
            return redirect(_overview_url(org))
    context = {
        "form": form,
        "policy": policy,
        "minimum": minimum,
        "type_label": RecordType(record_type).label,
        "retained": REGISTRY[record_type],
    }
    return render(request, "compliance_retention/policy_form.html", context)


@manages_compliance
def hold_create(request, org_slug):
    """Place a legal hold."""
    org = request.org
    form = LegalHoldForm(_posted(request), organization=org, initial={"custodian": request.user})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            hold = services.legal_hold_create(
                organization=org,
                actor=request.user,
                matter=data["matter"],
                description=data["description"],
                custodian=data["custodian"],
                whole_organization=data["whole_organization"],
                incidents=form.incidents,
                services=data["services"],
                date_from=data["date_from"],
                date_to=data["date_to"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Legal hold “{hold.matter}” is in force.")
            return redirect(_overview_url(org))
    return render(request, "compliance_retention/hold_form.html", {"form": form})


@manages_compliance
def hold_release(request, org_slug, pk):
    """Release a hold (asks first). The hold stays on record as released."""
    hold = get_object_or_404(LegalHold.objects.prefetch_related("incidents", "services"), pk=pk)
    form = LegalHoldReleaseForm(_posted(request))
    if hold.released_at is None and request.method == "POST" and form.is_valid():
        services.legal_hold_release(hold=hold, actor=request.user, note=form.cleaned_data["note"])
        messages.success(
            request, f"Legal hold “{hold.matter}” released; the next purge may remove what it kept."
        )
        return redirect(_overview_url(request.org))
    return render(request, "compliance_retention/hold_release.html", {"hold": hold, "form": form})


@manages_compliance
def preview(request, org_slug):
    """Dry-run preview: what the next purge would remove, and what holds keep back."""
    plans = services.purge_plan(request.org)
    return render(
        request,
        "compliance_retention/preview.html",
        {"plans": plans, "total": sum(p.count for p in plans)},
    )


@manages_compliance
def purge_run(request, org_slug):
    """Run the purge now, after a confirmation (or a dry run that only writes receipts)."""
    org = request.org
    form = PurgeRunForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        dry_run = form.cleaned_data["dry_run"]
        run = services.retention_purge(
            organization=org, actor=request.user, origin="web", dry_run=dry_run
        )
        if run.skipped:
            messages.warning(request, "Another purge of this organisation is running; try later.")
        else:
            total = sum(r.count for r in run.receipts)
            kind = "Dry run recorded" if dry_run else "Purge done"
            messages.success(
                request,
                f"{kind}: {total} record{'s' if total != 1 else ''} in "
                f"{len(run.receipts)} receipt{'s' if len(run.receipts) != 1 else ''}.",
            )
        return redirect(reverse("compliance_retention:receipt_list", kwargs={"org_slug": org.slug}))
    plans = services.purge_plan(org)
    return render(
        request,
        "compliance_retention/purge_confirm.html",
        {"form": form, "plans": plans, "total": sum(p.count for p in plans)},
    )


@manages_compliance
def receipt_list(request, org_slug):
    """Every purge receipt, newest first."""
    receipts = PurgeReceipt.objects.select_related("run_by", "policy")
    page = Paginator(receipts, RECEIPT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "compliance_retention/receipt_list.html", {"page": page})
