"""The comparison page (raw and normalised figures per tier, team and exposure), the exposure
page where figures and the feed token are managed, and the exposure feed machines post to."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import F
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.selectors import incident_list
from reporting import definitions, exposure, normalise
from reporting.exports import csv_response, wants_csv
from reporting.forms import ExposureFigureForm, ReportFilterForm
from reporting.models import ExposureFeedToken, ExposureFigure
from reporting.views import _list_query, human
from tenancy.access import org_view
from tenancy.roles import Capability, can
from tenancy.scoping import org_scope

PAGE_SIZE = 25
JSON_TYPES = ("application/json", "text/json")


def number(value, places: int = 2) -> str:
    """A ratio for people: "—" for none, else rounded (more places below 0.1)."""
    if value is None:
        return "—"
    if 0 < abs(value) < 0.1:
        return f"{value:.3g}"
    return f"{value:,.{places}f}"


def _href(base: str, query, dimension: str | None = None, key: int | None = None) -> str | None:
    """The incident list behind a number; None where the list cannot express it (the page is
    already filtered by another value of that dimension)."""
    narrowed = query.copy()
    if dimension is not None:
        if query.get(dimension) not in (None, str(key)):
            return None
        narrowed[dimension] = str(key)
    return f"{base}?{narrowed.urlencode()}"


def _exposure_note(row: normalise.ExposureRow) -> str:
    if row.missing:
        weeks = ", ".join(f"{week:%-d %b}" for week in row.missing)
        return f"No figure for the week{'s' if len(row.missing) > 1 else ''} of {weeks}."
    if not row.exposure:
        return "The exposure in the period is 0."
    return ""


def _csv(table: str, result: normalise.Comparison):
    period = f"{result.period.first:%Y-%m-%d}-{result.period.last:%Y-%m-%d}"
    if table == "tiers":
        return csv_response(
            f"incidents-per-tier-{period}.csv",
            [
                "tier",
                "incidents",
                "active services",
                "incidents per service",
                "resolved",
                "MTTR mean (seconds)",
            ],
            (
                [
                    row.tier,
                    row.incidents,
                    row.services,
                    f"{row.per_service:.4f}" if row.per_service is not None else "",
                    row.resolved,
                    round(row.mttr.total_seconds()) if row.mttr is not None else "",
                ]
                for row in result.tiers
            ),
        )
    if table == "teams":
        return csv_response(
            f"incidents-per-team-{period}.csv",
            ["team", "incidents", "active members", "incidents per member"],
            (
                [
                    row.name,
                    row.incidents,
                    row.size,
                    f"{row.per_member:.4f}" if row.per_member is not None else "",
                ]
                for row in result.teams
            ),
        )
    if table == "exposure":
        return csv_response(
            f"incidents-per-exposure-{period}.csv",
            [
                "scope",
                "unit",
                "incidents",
                "exposure in period",
                "weeks without a figure",
                "incidents per exposure",
                "per how many units",
            ],
            (
                [
                    row.label,
                    row.unit,
                    row.incidents,
                    f"{row.exposure:.2f}",
                    " ".join(week.isoformat() for week in row.missing),
                    f"{row.rate:.6f}" if row.rate is not None else "",
                    "1000" if row.per_thousand else "1",
                ]
                for row in result.exposure
            ),
        )
    raise Http404("No such table.")


@org_view(Capability.VIEW_DASHBOARDS, hidden=True)
def comparison(request, org_slug):
    """Raw and normalised incident figures per service tier, team and unit of exposure."""
    organization = request.org
    tz = organization.tzinfo
    form = ReportFilterForm(
        request.GET, organization=organization, today=timezone.now().astimezone(tz).date()
    )
    context = {"form": form, "result": None, "definitions": definitions}
    if not form.is_valid():
        return render(request, "reporting/comparison.html", context)
    period, filters = form.chosen_period(tz), form.chosen_filters()
    visible = incident_list(
        organization=organization, user=request.user, membership=request.membership
    )
    result = normalise.comparison(
        incidents=visible, organization=organization, period=period, filters=filters
    )
    if (table := wants_csv(request)) is not None:
        return _csv(table, result)
    base = reverse("incidents:incident_list", kwargs={"org_slug": organization.slug})
    query = _list_query(period, filters)
    csv_query = request.GET.copy()
    csv_query["format"] = "csv"
    context.update(
        result=result,
        volume_href=_href(base, query),
        csv_base=csv_query.urlencode(),
        tiers=[(row, number(row.per_service), human(row.mttr)) for row in result.tiers],
        teams=[
            (row, number(row.per_member), _href(base, query, "team", row.team_id))
            for row in result.teams
        ],
        exposure=[
            (
                row,
                number(row.rate, 2),
                _exposure_note(row),
                _href(base, query)
                if row.service_id is None
                else _href(base, query, "service", row.service_id),
            )
            for row in result.exposure
        ],
        may_manage=can(request.membership.role, Capability.MANAGE_REPORTS),
    )
    return render(request, "reporting/comparison.html", context)


# — exposure figures ——————————————————————————————————————————————————————————————————


def _exposure_url(organization) -> str:
    return reverse("reporting:exposure_list", kwargs={"org_slug": organization.slug})


def _exposure_page(request, form, *, token: str = "", status: int = 200):
    organization = request.org
    figures = (
        ExposureFigure.objects.filter(organization=organization)
        .select_related("service")
        .order_by("-week", F("service__name").asc(nulls_first=True), "pk")
    )
    if wants_csv(request) is not None:
        if wants_csv(request) != "figures":
            raise Http404("No such table.")
        return csv_response(
            "exposure-figures.csv",
            ["week", "service", "value", "unit", "updated"],
            (
                [
                    f.week.isoformat(),
                    f.service.name if f.service_id else "",
                    f"{f.value}",
                    f.unit,
                    timezone.localtime(f.updated_at, organization.tzinfo).isoformat(
                        timespec="seconds"
                    ),
                ]
                for f in figures
            ),
        )
    page = Paginator(figures, PAGE_SIZE).get_page(request.GET.get("page"))
    live = ExposureFeedToken.objects.filter(
        organization=organization, revoked_at__isnull=True
    ).first()
    context = {
        "form": form,
        "page": page,
        "live_token": live,
        "token": token,
        "feed_url": request.build_absolute_uri(
            reverse("reporting:exposure_feed", kwargs={"org_slug": organization.slug})
        ),
        "max_items": exposure.MAX_ITEMS,
    }
    return render(request, "reporting/exposure.html", context, status=status)


@org_view(Capability.MANAGE_REPORTS, hidden=True)
def exposure_list(request, org_slug):
    """The organisation's exposure figures (newest week first), a form to add one, and the
    feed token."""
    organization = request.org
    form = ExposureFigureForm(
        request.POST if request.method == "POST" else None, organization=organization
    )
    if request.method == "POST" and form.is_valid():
        figure = exposure.exposure_save(
            organization=organization, actor=request.user, figure=form.instance
        )
        messages.success(request, f"Saved: {figure}.")
        return redirect(_exposure_url(organization))
    return _exposure_page(request, form)


@org_view(Capability.MANAGE_REPORTS, hidden=True)
def exposure_edit(request, org_slug, figure_id):
    organization = request.org
    figure = get_object_or_404(ExposureFigure, organization=organization, pk=figure_id)
    form = ExposureFigureForm(
        request.POST if request.method == "POST" else None,
        instance=figure,
        organization=organization,
    )
    if request.method == "POST" and form.is_valid():
        exposure.exposure_save(organization=organization, actor=request.user, figure=form.instance)
        messages.success(request, f"Saved: {figure}.")
        return redirect(_exposure_url(organization))
    return render(request, "reporting/exposure_form.html", {"form": form, "figure": figure})


@require_POST
@org_view(Capability.MANAGE_REPORTS, hidden=True)
def exposure_delete(request, org_slug, figure_id):
    figure = get_object_or_404(ExposureFigure, organization=request.org, pk=figure_id)
    exposure.exposure_delete(organization=request.org, actor=request.user, figure=figure)
    messages.success(request, f"Deleted: {figure}.")
    return redirect(_exposure_url(request.org))


@require_POST
@org_view(Capability.MANAGE_REPORTS, hidden=True)
def exposure_token(request, org_slug):
    """Generate (or regenerate: the old one stops working) or revoke the feed token. A new
    token is shown once, on the page this answers with."""
    organization = request.org
    if request.POST.get("action") == "revoke":
        if exposure.exposure_token_revoke(organization=organization, actor=request.user):
            messages.success(request, "Feed token revoked: the feed refuses it from now on.")
        return redirect(_exposure_url(organization))
    token = exposure.exposure_token_generate(organization=organization, actor=request.user)
    return _exposure_page(request, ExposureFigureForm(None, organization=organization), token=token)


# — the feed ————————————————————————————————————————————————————————————————————————————


def _read_body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or ""
    too_large = exposure.FeedError(
        413, "too_large", f"Body larger than {exposure.MAX_BODY_BYTES} bytes."
    )
    if length.isdigit() and int(length) > exposure.MAX_BODY_BYTES:
        raise too_large
    body = request.read(exposure.MAX_BODY_BYTES + 1)
    if len(body) > exposure.MAX_BODY_BYTES:
        raise too_large
    return body


def _bearer(request) -> str:
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@csrf_exempt
@login_not_required
@require_POST
def exposure_feed(request, org_slug):
    """`POST /o/<org>/reports/exposure/feed/` with `Authorization: Bearer <feed token>`: one
    figure or a list of up to 500, upserted by service and week, all or nothing."""
    try:
        organization = exposure.token_organization(_bearer(request), org_slug)
        if organization is None:
            raise exposure.FeedError(401, "unauthorized", "Missing, wrong or revoked feed token.")
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            raise exposure.FeedError(
                415, "unsupported_media_type", "Send JSON with Content-Type: application/json."
            )
        body = _read_body(request)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise exposure.FeedError(400, "invalid_json", "The body is not valid JSON.") from None
        with org_scope(organization):
            items = exposure.parse_feed(organization, payload)
            try:
                result = exposure.exposure_feed_ingest(organization=organization, items=items)
            except IntegrityError:
                raise exposure.FeedError(
                    409, "conflict", "Another request wrote the same weeks at once: send again."
                ) from None
    except exposure.FeedError as error:
        response = JsonResponse(error.as_json(), status=error.status)
        if error.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="exposure feed"'
        return response
    return JsonResponse(result, status=200)
