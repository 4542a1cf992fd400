from django.conf import settings as _settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, F, Prefetch, When
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from compliance import audit_chain, audit_export, mapping, obligations, unmask
from compliance.filters import AuditEntryFilterSet
from compliance.forms import FactsForm, ObligationFilterForm, ObligationForm, SubmissionForm
from compliance.frameworks import ensure_frameworks
from compliance.models import (
    Framework,
    IncidentFacts,
    IncidentObligation,
    Obligation,
    ObligationStatus,
)
from compliance.selectors import audit_entry_list
from incidents.models import Incident
from incidents.selectors import incident_get, incident_list
from taxonomy.models import CustomFieldDefinition
from tenancy.access import org_view
from tenancy.roles import Capability

AUDIT_PAGE_SIZE = 50
OBLIGATIONS_PAGE_SIZE = 50
REEVALUATE_LIMIT = 500
# What an obligation row shows and its field mapping reads, fetched with the row (no N+1).
ROW_RELATED = (
    "incident__organization",
    "incident__severity",
    "incident__commander",
    "incident__primary_service",
    "incident__category",
    "incident__owning_team",
    "obligation__framework",
    "submitted_by",
)


@org_view(Capability.VIEW_AUDIT_TRAIL, hidden=True)
def audit_list(request, org_slug):
    """Who changed what, and when: the organisation's audit trail, filterable."""
    filterset = AuditEntryFilterSet(
        request.GET,
        queryset=audit_entry_list(
            organization=request.org, user=request.user, membership=request.membership
        ),
        request=request,
    )
    entries = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode()}
    return render(request, "compliance/audit_list.html", context)


# --- regulatory obligations -----------------------------------------------------------------


def _obligation_rows(request, queryset):
    """Rows with what the pages show: time left, overdue, missing data."""
    now = timezone.now()
    rows = list(queryset)
    facts = {
        f.incident_id: f
        for f in IncidentFacts.objects.filter(incident_id__in={r.incident_id for r in rows})
    }
    for row in rows:
        row.missing = mapping.missing(row.obligation, row.incident, facts.get(row.incident_id))
        row.overdue = row.is_open and row.due_at is not None and row.due_at <= now
        row.time_left = row.due_at - now if row.is_open and row.due_at else None
    return rows


@org_view(Capability.MANAGE_COMPLIANCE, hidden=True)
def obligation_overview(request, org_slug):
    """Every regulatory obligation raised by the organisation's incidents: open first, by
    deadline; filters by state and framework."""
    ensure_frameworks(request.org.pk)
    data = request.GET.copy()
    data.setdefault("state", "open")
    form = ObligationFilterForm(data, organization=request.org)
    visible = incident_list(
        organization=request.org, user=request.user, membership=request.membership
    )
    queryset = (
        IncidentObligation.objects.filter(incident__in=visible.values("pk"))
        .exclude(status=ObligationStatus.WITHDRAWN)
        .select_related(*ROW_RELATED)
        .prefetch_related("incident__affected_services")
    )
    if form.is_valid():
        queryset = form.apply(queryset)
    queryset = queryset.order_by(
        Case(When(status__in=["not_started", "drafted"], then=0), default=1),
        F("due_at").asc(nulls_last=True),
        "-pk",
    )
    page = Paginator(queryset, OBLIGATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _obligation_rows(request, page.object_list)
    revealed = unmask.request_revealed_ids(request, [row.incident for row in page.object_list])
    for row in page.object_list:
        row.incident.reveal = row.incident_id in revealed
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "compliance/obligation_overview.html",
        {"form": form, "page": page, "query": query.urlencode(), "now": timezone.now()},
    )


@org_view(Capability.MANAGE_COMPLIANCE, hidden=True)
def incident_obligations(request, org_slug, key):
    """One incident's regulatory facts and every obligation that applies: deadline, time left,
    missing data, status; record the facts, mark drafted or submitted."""
    incident = incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    incident.reveal = unmask.request_reveal(request, incident)
    facts = IncidentFacts.objects.filter(incident_id=incident.pk).first()
    form = FactsForm(instance=facts or IncidentFacts(incident=incident))
    if request.method == "POST" and request.POST.get("action") == "facts":
        form = FactsForm(request.POST, instance=facts or IncidentFacts(incident=incident))
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.Meta.fields}
            obligations.save_facts(incident, actor=request.user, data=data)
            messages.success(request, "Regulatory facts saved; obligations re-evaluated.")
            return redirect(request.path)
    rows = _obligation_rows(
        request,
        IncidentObligation.objects.filter(incident_id=incident.pk)
        .select_related(*ROW_RELATED)
        .prefetch_related("incident__affected_services")
        .order_by(F("due_at").asc(nulls_last=True), "pk"),
    )
    active = [r for r in rows if r.status != ObligationStatus.WITHDRAWN]
    withdrawn = [r for r in rows if r.status == ObligationStatus.WITHDRAWN]
    return render(
        request,
        "compliance/incident_obligations.html",
        {
            "incident": incident,
            "form": form,
            "rows": active,
            "withdrawn": withdrawn,
            "submission_form": SubmissionForm(),
            "facts": facts,
        },
    )


@require_POST
@org_view(Capability.MANAGE_COMPLIANCE, hidden=True)
def obligation_status(request, org_slug, key, pk):
    """Mark one of the incident's obligations drafted or submitted."""
    incident = incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    row = get_object_or_404(
        IncidentObligation.objects.select_related("incident__organization", "obligation"),
        pk=pk,
        incident_id=incident.pk,
    )
    action = request.POST.get("action")
    try:
        if action == "drafted":
            obligations.mark_drafted(row, actor=request.user)
            messages.success(request, f"{row.obligation.name}: marked drafted.")
        elif action == "submitted":
            form = SubmissionForm(request.POST)
            if not form.is_valid():
                errors = "; ".join(e for errs in form.errors.values() for e in errs)
                messages.error(request, f"{row.obligation.name}: {errors}")
                return redirect("compliance:incident_obligations", org_slug=org_slug, key=key)
            obligations.mark_submitted(
                row,
                actor=request.user,
                submitted_at=form.cleaned_data["submitted_at"],
                reference=form.cleaned_data["reference"],
            )
            messages.success(request, f"{row.obligation.name}: marked submitted.")
        else:
            return HttpResponseBadRequest("Unknown action.")
    except ValidationError as exc:
        text = (
            "; ".join(m for ms in exc.message_dict.values() for m in ms)
            if hasattr(exc, "error_dict")
            else "; ".join(exc.messages)
        )
        messages.error(request, f"{row.obligation.name}: {text}")
    return redirect("compliance:incident_obligations", org_slug=org_slug, key=key)


def _incidents_to_reevaluate(*, framework=None, obligation=None) -> list[int]:
    """Incidents whose obligations a changed framework or obligation may change: those with
    regulatory facts or open rows of it (at most REEVALUATE_LIMIT, newest first)."""
    rows = IncidentObligation.objects.exclude(status=ObligationStatus.SUBMITTED)
    rows = (
        rows.filter(obligation=obligation)
        if obligation
        else rows.filter(obligation__framework=framework)
    )
    ids = set(rows.values_list("incident_id", flat=True)[:REEVALUATE_LIMIT])
    ids |= set(
        IncidentFacts.objects.exclude(incident__status="closed")
        .order_by("-incident_id")
        .values_list("incident_id", flat=True)[:REEVALUATE_LIMIT]
    )
    return sorted(ids)[-REEVALUATE_LIMIT:]


@org_view(Capability.MANAGE_COMPLIANCE, hidden=True)
def framework_list(request, org_slug):
    """The frameworks and their obligations; switch a framework on or off."""
    ensure_frameworks(request.org.pk)
    if request.method == "POST":
        pk = request.POST.get("framework", "")
        if not pk.isdigit():
            return HttpResponseBadRequest("Choose a framework.")
        framework = get_object_or_404(Framework, pk=pk)
        framework.enabled = request.POST.get("enabled") == "1"
        framework.save(update_fields=["enabled"])
        # Open obligations follow at once: withdrawn when switched off, raised again when on.
        incident_ids = _incidents_to_reevaluate(framework=framework)
        for incident in Incident.objects.filter(pk__in=incident_ids):
            obligations.evaluate(incident)
        state = "enabled" if framework.enabled else "disabled"
        messages.success(
            request, f"{framework.name} {state}; {len(incident_ids)} incident(s) re-evaluated."
        )
        return redirect("compliance:framework_list", org_slug=org_slug)
    frameworks = Framework.objects.filter(organization=request.org).prefetch_related(
        Prefetch("obligations", queryset=Obligation.objects.select_related("previous"))
    )
    return render(request, "compliance/framework_list.html", {"frameworks": frameworks})


@org_view(Capability.MANAGE_COMPLIANCE, hidden=True)
def obligation_edit(request, org_slug, obligation_key):
    """Edit one obligation: trigger, clock, deadline rule, recipients, report, field mapping.
    Open incidents that carry it get their deadlines re-computed."""
    obligation = get_object_or_404(
        Obligation.objects.select_related("framework"), key=obligation_key
    )
    custom_keys = CustomFieldDefinition.objects.filter(organization=request.org).values_list(
        "key", flat=True
    )
    form = ObligationForm(request.POST or None, instance=obligation, custom_keys=custom_keys)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            incident_ids = _incidents_to_reevaluate(obligation=obligation)
        for incident in Incident.objects.filter(pk__in=incident_ids):
            obligations.evaluate(incident)
        messages.success(
            request,
            f"{obligation.name} saved; {len(incident_ids)} open incident(s) re-evaluated.",
        )
        return redirect("compliance:framework_list", org_slug=org_slug)
    return render(
        request, "compliance/obligation_form.html", {"form": form, "obligation": obligation}
    )


# — Audit hash chain ("Verify now") and audit-trail export ——————————————————————————————————
# Roles without the capability get 404 here, like a page that does not exist.


@require_POST
@org_view(Capability.MANAGE_COMPLIANCE, hidden=True)
def audit_verify(request, org_slug):
    """ "Verify now": recompute the organisation's audit hash chain. Short chains are verified
    within the request; long ones (over AUDIT_VERIFY_INLINE_MAX entries) by a Celery task."""
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


@org_view(Capability.EXPORT_COMPLIANCE, hidden=True)
def audit_export_view(request, org_slug):
    """The audit trail of one incident or a date range, as PDF or CSV (GET form; errors
    are shown on this page with status 200)."""
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


# — unmasking (masking on every surface: compliance/masking.py, compliance/unmask.py) ————————


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
