"""Pages of compliance.reports. Viewing, generating and sending reports needs
`export_compliance`, editing distribution lists `manage_compliance`; everyone else gets 404,
as does an incident the reader may not see."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from compliance import unmask
from compliance.masking import may_see_sensitive
from compliance.models import IncidentObligation, Obligation, ReportFormat
from compliance.reports import selectors, services
from compliance.reports.content import build_content, content_hash
from compliance.reports.forms import (
    DistributionListForm,
    RecipientAddressForm,
    RecipientMemberForm,
    ReportFilterForm,
    ReportSendForm,
)
from compliance.reports.models import DistributionList, DistributionRecipient, Report
from incidents.selectors import incident_get
from tenancy.access import org_view
from tenancy.roles import Capability, can

PAGE_SIZE = 30


def reports_view(capability: Capability):
    """`org_view` for compliance pages: a member whose role lacks `capability` gets the same
    404 as a non-member (the page's existence is not disclosed)."""
    return org_view(capability, hidden=True)


def _error_text(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return " ".join(m for messages_ in error.message_dict.values() for m in messages_)
    return " ".join(error.messages)


def _incident(request, key):
    incident = incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    incident.reveal = unmask.request_reveal(request, incident)  # the page masks like any other
    return incident


def _obligation(request, obligation_key) -> Obligation:
    return get_object_or_404(
        Obligation.objects.select_related("framework"),
        organization=request.org,
        key=obligation_key,
    )


def _obligation_url(request, incident, obligation) -> str:
    return reverse(
        "compliance_reports:obligation_reports",
        kwargs={
            "org_slug": request.org.slug,
            "key": incident.key,
            "obligation_key": obligation.key,
        },
    )


@reports_view(Capability.EXPORT_COMPLIANCE)
def report_list(request, org_slug):
    """Every report of the organisation, newest first, filterable by framework, format and
    incident."""
    form = ReportFilterForm(request.GET or None, organization=request.org)
    filters = form.cleaned_data if form.is_valid() else {}
    reports = selectors.report_list(
        organization=request.org,
        user=request.user,
        membership=request.membership,
        framework=filters.get("framework"),
        report_format=filters.get("format", ""),
        incident_key=filters.get("incident", ""),
    )
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": any(request.GET.get(k) for k in ("framework", "format", "incident")),
    }
    return render(request, "compliance_reports/report_list.html", context)


def _send_form(request, versions, obligation, data=None):
    initial = {}
    first = versions.first()
    if first is not None:
        initial["report"] = first.pk
    default = DistributionList.objects.filter(
        organization=request.org, default_for=obligation.framework_id
    ).first()
    if default is not None:
        initial["distribution_list"] = default.pk
    return ReportSendForm(data, versions=versions, organization=request.org, initial=initial)


def _obligation_page(request, incident, obligation, send_form=None, status=200):
    versions = selectors.report_versions(incident=incident, obligation=obligation)
    tracked = IncidentObligation.objects.filter(incident=incident, obligation=obligation).first()
    current = None
    if obligation.report_format:
        content = build_content(
            organization=request.org,
            incident=incident,
            obligation=obligation,
            report_format=obligation.report_format,
            reveal=may_see_sensitive(request.membership.role),
        )
        current = {"missing": content["missing"], "hash": content_hash(content)}
    latest = versions.first()
    context = {
        "incident": incident,
        "obligation": obligation,
        "tracked": tracked,
        "versions": versions,
        "latest": latest,
        "current": current,
        "up_to_date": latest is not None
        and current is not None
        and latest.content_hash == current["hash"],
        "send_form": send_form or _send_form(request, versions, obligation),
        "has_lists": DistributionList.objects.filter(organization=request.org).exists(),
        "distributions": selectors.distribution_history(reports=versions),
        "now": timezone.now(),
        "format_label": ReportFormat(obligation.report_format).label
        if obligation.report_format
        else "",
    }
    return render(request, "compliance_reports/obligation_reports.html", context, status=status)


@reports_view(Capability.EXPORT_COMPLIANCE)
def obligation_reports(request, org_slug, key, obligation_key):
    """One obligation's report on one incident: its versions, a new version, downloads, and
    sending a version to a distribution list."""
    incident = _incident(request, key)
    obligation = _obligation(request, obligation_key)
    return _obligation_page(request, incident, obligation)


@require_POST
@reports_view(Capability.EXPORT_COMPLIANCE)
def report_generate(request, org_slug, key, obligation_key):
    incident = _incident(request, key)
    obligation = _obligation(request, obligation_key)
    try:
        report = services.report_generate(
            organization=request.org, actor=request.user, incident=incident, obligation=obligation
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    except PermissionDenied as error:
        raise Http404(str(error)) from error
    else:
        messages.success(request, f"Version {report.version} generated.")
    return redirect(_obligation_url(request, incident, obligation))


@reports_view(Capability.EXPORT_COMPLIANCE)
def report_download(request, org_slug, key, obligation_key, report_id):
    """The stored PDF, byte for byte."""
    incident = _incident(request, key)
    obligation = _obligation(request, obligation_key)
    report = get_object_or_404(
        Report.objects.select_related("incident"),
        organization=request.org,
        incident=incident,
        obligation=obligation,
        pk=report_id,
    )
    response = HttpResponse(bytes(report.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    response["Content-Length"] = str(len(report.pdf))
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@reports_view(Capability.EXPORT_COMPLIANCE)
def report_send(request, org_slug, key, obligation_key):
    incident = _incident(request, key)
    obligation = _obligation(request, obligation_key)
    versions = selectors.report_versions(incident=incident, obligation=obligation)
    form = _send_form(request, versions, obligation, data=request.POST)
    if not form.is_valid():
        return _obligation_page(request, incident, obligation, send_form=form)
    try:
        distribution = services.report_send(
            organization=request.org,
            actor=request.user,
            report=form.cleaned_data["report"],
            distribution_list=form.cleaned_data["distribution_list"],
        )
    except ValidationError as error:
        form.add_error(None, _error_text(error))
        return _obligation_page(request, incident, obligation, send_form=form)
    except PermissionDenied as error:
        raise Http404(str(error)) from error
    sent = [r for r in distribution.recipients if not r.get("skipped")]
    skipped = [r for r in distribution.recipients if r.get("skipped")]
    text = (
        f"Version {distribution.report.version} is on its way to {len(sent)} "
        f"recipient{'s' if len(sent) != 1 else ''} of “{distribution.list_name}”."
    )
    if skipped:
        names = ", ".join(f"{r['name']} ({r['reason']})" for r in skipped)
        text += f" Skipped: {names}."
    messages.success(request, text)
    return redirect(_obligation_url(request, incident, obligation))


# — distribution lists ————————————————————————————————————————————————————————————————


def _lists_url(request) -> str:
    return reverse("compliance_reports:distribution_lists", kwargs={"org_slug": request.org.slug})


def _list_url(request, distribution_list) -> str:
    return reverse(
        "compliance_reports:distribution_list_detail",
        kwargs={"org_slug": request.org.slug, "pk": distribution_list.pk},
    )


def _apply_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@reports_view(Capability.EXPORT_COMPLIANCE)
def distribution_lists(request, org_slug):
    """The organisation's distribution lists; compliance managers add new ones here."""
    may_manage = can(request.membership.role, Capability.MANAGE_COMPLIANCE)
    form = DistributionListForm(
        request.POST if request.method == "POST" else None, organization=request.org
    )
    if request.method == "POST":
        if not may_manage:
            raise Http404("No such page.")
        if form.is_valid():
            try:
                created = services.distribution_list_save(
                    organization=request.org, actor=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, f"List “{created.name}” created. Add its recipients.")
                return redirect(_list_url(request, created))
    context = {
        "lists": selectors.distribution_list_list(organization=request.org),
        "form": form,
        "may_manage": may_manage,
    }
    return render(request, "compliance_reports/distribution_lists.html", context)


def _list_page(request, distribution_list, **forms_):
    context = {
        "list": distribution_list,
        "recipients": distribution_list.recipients.select_related("user"),
        "may_manage": can(request.membership.role, Capability.MANAGE_COMPLIANCE),
        "form": forms_.get("form")
        or DistributionListForm(
            organization=request.org,
            initial={
                "name": distribution_list.name,
                "description": distribution_list.description,
                "default_for": distribution_list.default_for_id,
            },
        ),
        "member_form": forms_.get("member_form")
        or RecipientMemberForm(organization=request.org, prefix="member"),
        "address_form": forms_.get("address_form") or RecipientAddressForm(prefix="address"),
    }
    return render(request, "compliance_reports/distribution_list_detail.html", context)


@reports_view(Capability.EXPORT_COMPLIANCE)
def distribution_list_detail(request, org_slug, pk):
    distribution_list = get_object_or_404(DistributionList, organization=request.org, pk=pk)
    if request.method != "POST":
        return _list_page(request, distribution_list)
    if not can(request.membership.role, Capability.MANAGE_COMPLIANCE):
        raise Http404("No such page.")
    form = DistributionListForm(request.POST, organization=request.org)
    if form.is_valid():
        try:
            services.distribution_list_save(
                organization=request.org,
                actor=request.user,
                distribution_list=distribution_list,
                **form.cleaned_data,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "List saved.")
            return redirect(_list_url(request, distribution_list))
    return _list_page(request, distribution_list, form=form)


@require_POST
@reports_view(Capability.MANAGE_COMPLIANCE)
def distribution_list_delete(request, org_slug, pk):
    distribution_list = get_object_or_404(DistributionList, organization=request.org, pk=pk)
    services.distribution_list_delete(
        organization=request.org, actor=request.user, distribution_list=distribution_list
    )
    messages.success(request, f"List “{distribution_list.name}” deleted.")
    return redirect(_lists_url(request))


@require_POST
@reports_view(Capability.MANAGE_COMPLIANCE)
def recipient_add(request, org_slug, pk):
    distribution_list = get_object_or_404(DistributionList, organization=request.org, pk=pk)
    member = "member-user" in request.POST
    form = (
        RecipientMemberForm(request.POST, organization=request.org, prefix="member")
        if member
        else RecipientAddressForm(request.POST, prefix="address")
    )
    if form.is_valid():
        try:
            recipient = services.recipient_add(
                organization=request.org,
                actor=request.user,
                distribution_list=distribution_list,
                **form.cleaned_data,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"{recipient.display_name} added.")
            return redirect(_list_url(request, distribution_list))
    key = "member_form" if member else "address_form"
    return _list_page(request, distribution_list, **{key: form})


@require_POST
@reports_view(Capability.MANAGE_COMPLIANCE)
def recipient_remove(request, org_slug, pk, recipient_id):
    recipient = get_object_or_404(
        DistributionRecipient.objects.select_related("user"),
        organization=request.org,
        distribution_list_id=pk,
        pk=recipient_id,
    )
    services.recipient_remove(organization=request.org, actor=request.user, recipient=recipient)
    messages.success(request, f"{recipient.display_name} removed.")
    return redirect(
        reverse(
            "compliance_reports:distribution_list_detail",
            kwargs={"org_slug": org_slug, "pk": pk},
        )
    )
