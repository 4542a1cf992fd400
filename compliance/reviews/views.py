"""Pages of access reviews: admins and compliance staff only; everyone else gets 404."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from compliance.reviews import export, selectors, services
from compliance.reviews.forms import LineFilterForm, PolicyForm, ReassignForm, RevokeForm
from compliance.reviews.models import Campaign, ReviewLine
from tenancy.access import org_view
from tenancy.models import User
from tenancy.roles import Capability, Role

LINES_PER_PAGE = 50
CAMPAIGNS_PER_PAGE = 20


# Members without `manage_compliance`: the page does not exist (404), as on every compliance page.
reviews_view = org_view(Capability.MANAGE_COMPLIANCE, hidden=True)


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def _campaign(request, pk: int) -> Campaign:
    try:
        return selectors.campaign_get(organization=request.org, pk=pk)
    except Campaign.DoesNotExist:
        raise Http404("No such access review.") from None


def _detail_url(request, campaign: Campaign) -> str:
    return reverse(
        "compliance_reviews:campaign_detail",
        kwargs={"org_slug": request.org.slug, "pk": campaign.pk},
    )


def _may_decide(line: ReviewLine, user: User, role: str) -> bool:
    if line.is_decided or not line.campaign.is_open:
        return False
    try:
        services.check_may_decide(line, user, role)
    except PermissionDenied:
        return False
    return True


@reviews_view
def campaign_list(request, org_slug):
    """Every access review of the organisation, with its progress; start one now."""
    campaigns = selectors.campaign_list(organization=request.org)
    page = Paginator(campaigns, CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    for campaign in page.object_list:
        campaign.percent = selectors.percent(campaign.decided_count, campaign.line_count)
    pending = selectors.pending_for(organization=request.org, user=request.user).count()
    context = {
        "page": page,
        "policy": services.policy_for(request.org.pk),
        "open_campaign": campaigns.filter(status=Campaign.Status.OPEN).first(),
        "my_pending": pending,
    }
    return render(request, "compliance_reviews/campaign_list.html", context)


@reviews_view
@require_POST
def campaign_start(request, org_slug):
    """The "Start a review now" button."""
    try:
        campaign = services.campaign_start(organization=request.org, actor=request.user)
    except services.CampaignAlreadyOpen as error:
        messages.error(request, _error_text(error))
        return redirect(_detail_url(request, error.campaign))
    messages.success(request, "Access review started: the reviewers have been told.")
    return redirect(_detail_url(request, campaign))


@reviews_view
def campaign_detail(request, org_slug, pk):
    """One review: progress, per-reviewer progress, and its lines, filterable."""
    campaign = _campaign(request, pk)
    progress = selectors.reviewer_progress(campaign)
    reviewers = [p.reviewer for p in progress if p.reviewer is not None]
    form = LineFilterForm(request.GET or None, reviewers=reviewers)
    lines = selectors.line_list(campaign=campaign)
    if request.GET:
        lines = form.apply(lines)
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    role = request.membership.role
    for line in page.object_list:
        line.campaign = campaign
        line.current = selectors.current_of(line)
        line.may_decide = _may_decide(line, request.user, role)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "campaign": campaign,
        "percent": selectors.percent(campaign.decided_count, campaign.line_count),
        "progress": progress,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": any(v for k, v in request.GET.items() if k != "page"),
        "decidable": [line for line in page.object_list if line.may_decide],
        "complete": campaign.decided_count == campaign.line_count,
        "is_admin": role == Role.ADMIN,
        "overdue": campaign.is_overdue(),
        # A signed-off review proves itself: its decisions still hash to what was signed.
        "hash_matches": export.content_hash_of(campaign) == campaign.signed_hash
        if campaign.signed_hash
        else None,
    }
    return render(request, "compliance_reviews/campaign_detail.html", context)


@reviews_view
def my_reviews(request, org_slug):
    """The lines waiting for the signed-in reviewer, across open reviews."""
    lines = selectors.pending_for(organization=request.org, user=request.user)
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    role = request.membership.role
    for line in page.object_list:
        line.current = selectors.current_of(line)
        line.may_decide = _may_decide(line, request.user, role)
    context = {
        "page": page,
        "query": "",
        "decidable": [line for line in page.object_list if line.may_decide],
    }
    return render(request, "compliance_reviews/my_reviews.html", context)


def _safe_next(request) -> str:
    return _next_url(request, "", request.GET.get("next", ""))


def _next_url(request, fallback: str, target: str | None = None) -> str:
    target = request.POST.get("next", "") if target is None else target
    # Only a path inside this organisation's reviews: never an open redirect.
    prefix = reverse("compliance_reviews:campaign_list", kwargs={"org_slug": request.org.slug})
    if target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return fallback


@reviews_view
@require_POST
def lines_certify(request, org_slug, pk):
    """Certify the selected lines (or every decidable line shown, with "Certify all shown")."""
    campaign = _campaign(request, pk)
    field = "shown" if request.POST.get("all") else "line"
    try:
        ids = [int(value) for value in request.POST.getlist(field)]
    except ValueError:
        ids = []
    back = _next_url(request, _detail_url(request, campaign))
    if not ids:
        messages.error(request, "Select at least one line to certify.")
        return redirect(back)
    try:
        certified, skipped = services.lines_certify(
            campaign=campaign, actor=request.user, line_ids=ids
        )
    except PermissionDenied as error:
        messages.error(request, _error_text(error))
        return redirect(back)
    if certified:
        messages.success(request, f"Certified {certified} line{'s' if certified != 1 else ''}.")
    for reason in skipped[:10]:
        messages.warning(request, f"Not certified — {reason}")
    return redirect(back)


def _line(request, campaign: Campaign, line_pk: int) -> ReviewLine:
    line = get_object_or_404(
        ReviewLine.objects.select_related("user", "group", "reviewer", "decided_by"),
        pk=line_pk,
        campaign=campaign,
    )
    line.campaign = campaign
    return line


@reviews_view
def line_revoke(request, org_slug, pk, line_pk):
    """Revoke one line: the form, then the revocation, effective at once."""
    campaign = _campaign(request, pk)
    line = _line(request, campaign, line_pk)
    current = services.current_access(line)
    form = RevokeForm(request.POST or None, line=line, current_role=current.role)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.line_revoke(
                line=line,
                actor=request.user,
                reason=data["reason"],
                action=data["action"],
                new_role=data.get("new_role", ""),
                expected_role=data.get("expected_role", ""),
            )
        except ValidationError as failure:
            if hasattr(failure, "error_dict"):
                for field, errors in failure.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                error = _error_text(failure)
        except PermissionDenied as failure:
            error = _error_text(failure)
        else:
            messages.success(
                request, f"Revoked: {line}. {ReviewLine.objects.get(pk=line.pk).outcome}"
            )
            return redirect(_next_url(request, _detail_url(request, campaign)))
    context = {
        "campaign": campaign,
        "line": line,
        "current": current,
        "form": form,
        "error": error,
        "may_decide": _may_decide(line, request.user, request.membership.role),
        "next": _next_url(request, "") if request.method == "POST" else _safe_next(request),
        "reassign_form": ReassignForm(organization=request.org, line=line)
        if request.membership.role == Role.ADMIN and campaign.is_open and not line.is_decided
        else None,
    }
    return render(request, "compliance_reviews/line_revoke.html", context)


@reviews_view
@require_POST
def line_reassign(request, org_slug, pk, line_pk):
    """Hand a line to another reviewer (admins): how a flagged line gets a reviewer."""
    campaign = _campaign(request, pk)
    line = _line(request, campaign, line_pk)
    form = ReassignForm(request.POST, organization=request.org, line=line)
    if not form.is_valid():
        messages.error(request, "Choose one of the organisation's admins or compliance staff.")
    else:
        try:
            services.line_reassign(
                line=line, actor=request.user, reviewer=form.cleaned_data["reviewer"]
            )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(
                request, f"{line} is now for {form.cleaned_data['reviewer']} to review."
            )
    return redirect(_next_url(request, _detail_url(request, campaign)))


@reviews_view
@require_POST
def campaign_sign_off(request, org_slug, pk):
    campaign = _campaign(request, pk)
    try:
        services.campaign_sign_off(campaign=campaign, actor=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, "Access review signed off. Its PDF is now final.")
    return redirect(_detail_url(request, campaign))


@reviews_view
def campaign_pdf(request, org_slug, pk):
    """The review as PDF: final once signed off, marked as a draft before."""
    campaign = _campaign(request, pk)
    response = HttpResponse(export.render(campaign), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{export.filename(campaign)}"'
    return response


@reviews_view
def policy_edit(request, org_slug):
    """How often reviews start and how long reviewers have."""
    policy = services.policy_for(request.org.pk)
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_save(organization=request.org, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Access review schedule saved; it applies to new reviews.")
            return redirect("compliance_reviews:campaign_list", org_slug=request.org.slug)
    return render(request, "compliance_reviews/policy_form.html", {"form": form})
