"""The manager dashboard: KPIs with their arithmetic and definitions, and volume charts whose
bars drill down to the incident list filtered the same way."""

import datetime
from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from incidents.selectors import incident_list
from reporting import definitions, kpis, services
from reporting.dashboard_csv import dashboard_csv, executive_reports_csv
from reporting.exports import wants_csv
from reporting.forms import GenerateForm, ReportFilterForm, ScheduleForm
from reporting.models import ExecutiveReport, ReportSchedule
from reporting.svg import ChartBar, bar_chart
from tenancy.access import org_view
from tenancy.roles import Capability, can


@dataclass(frozen=True)
class Row:
    """One line of the KPI table."""

    name: str
    value: str
    arithmetic: str
    definition: definitions.Definition
    href: str | None = None


def human(duration: datetime.timedelta | None) -> str:
    """A duration the way people say it: 2 d 3 h, 1 h 5 min, 4 min 10 s."""
    if duration is None:
        return "—"
    seconds = round(duration.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


def _percent(ratio: kpis.Ratio) -> str:
    return "—" if ratio.percent is None else f"{ratio.percent:g} %"


def _ratio_row(key: str, ratio: kpis.Ratio, of: str, empty: str, name: str | None = None) -> Row:
    definition = definitions.BY_KEY[key]
    arithmetic = f"{ratio.numerator} ÷ {ratio.denominator} {of}" if ratio.denominator else empty
    return Row(name or definition.name, _percent(ratio), arithmetic, definition)


def _duration_row(key: str, durations: kpis.Durations) -> Row:
    definition = definitions.BY_KEY[key]
    if not durations.count:
        return Row(definition.name, "—", "no incidents", definition)
    noun = "incident" if durations.count == 1 else "incidents"
    arithmetic = (
        f"{human(durations.total)} ÷ {durations.count} {noun}; median {human(durations.median)}"
    )
    return Row(definition.name, human(durations.mean), arithmetic, definition)


def kpi_rows(report: kpis.Report, volume_href: str) -> list[Row]:
    volume = definitions.BY_KEY["volume"]
    rows = [
        Row(volume.name, str(report.volume), "incidents reported", volume, volume_href),
        _duration_row("mtta", report.mtta),
        _duration_row("mttr", report.mttr),
    ]
    for phase, ratio in report.sla.items():
        rows.append(
            _ratio_row(
                "sla",
                ratio,
                "timers met",
                "no timer met or breached",
                f"SLA compliance: {phase.capitalize()}",
            )
        )
    rows += [
        _ratio_row("cadence", report.cadence, "updates on time", "no update with a cadence"),
        _ratio_row(
            "postmortem_completion",
            report.postmortem_completion,
            "published",
            "no post-mortem required",
        ),
        _ratio_row(
            "postmortem_timeliness", report.postmortem_timeliness, "on time", "none published"
        ),
        _ratio_row("action_items", report.action_items, "due items done", "no item due"),
        _ratio_row(
            "action_items",
            report.action_items_on_time,
            "done items on time",
            "no item done",
            "Action items done on time",
        ),
        _ratio_row("reopen_rate", report.reopen_rate, "incidents reopened", "no incidents"),
        _ratio_row("alert_share", report.alert_share, "incidents from alerts", "no incidents"),
    ]
    return rows


def _list_query(period: kpis.Period, filters: kpis.Filters) -> QueryDict:
    """The incident list's query string for the same incidents the dashboard counts."""
    query = QueryDict(mutable=True)
    query["since"] = period.first.isoformat()
    query["until"] = period.last.isoformat()
    if not filters.include_excluded:
        query["counted"] = "true"
    for name in ("team", "service", "severity", "category"):
        value = getattr(filters, name)
        if value is not None:
            query[name] = str(value.pk)
    return query


def _linked(bars: list[kpis.Bar], *, dimension: str, base: str, query: QueryDict):
    """(bar, href) for each bar. No link where the list cannot express it: no value (e.g. no
    category), or the dashboard already filters this dimension by another value."""
    chosen = query.get(dimension)
    linked = []
    for bar in bars:
        href = None
        if bar.key is not None and chosen in (None, str(bar.key)):
            narrowed = query.copy()
            narrowed[dimension] = str(bar.key)
            href = f"{base}?{narrowed.urlencode()}"
        linked.append((bar, href))
    return linked


def _chart(linked, *, title: str):
    bars = [ChartBar(bar.label, bar.count, href) for bar, href in linked]
    return bar_chart(bars, title=title) if bars else None


@org_view(Capability.VIEW_DASHBOARDS, hidden=True)
def dashboard(request, org_slug):
    organization = request.org
    tz = organization.tzinfo
    today = timezone.now().astimezone(tz).date()
    form = ReportFilterForm(request.GET, organization=organization, today=today)
    context = {"form": form, "report": None, "definitions": definitions}
    if form.is_valid():
        period, filters = form.chosen_period(tz), form.chosen_filters()
        visible = incident_list(
            organization=organization, user=request.user, membership=request.membership
        )
        report = kpis.report(
            incidents=visible, organization=organization, period=period, filters=filters
        )
        base = reverse("incidents:incident_list", kwargs={"org_slug": organization.slug})
        query = _list_query(period, filters)
        volume_href = f"{base}?{query.urlencode()}"
        excluded = query.copy()
        excluded["counted"] = "false"
        context.update(
            report=report,
            rows=kpi_rows(report, volume_href),
            volume_href=volume_href,
            excluded_href=f"{base}?{excluded.urlencode()}",
            severity_chart=_chart(
                _linked(report.by_severity, dimension="severity", base=base, query=query),
                title="Incidents by severity",
            ),
            service_chart=_chart(
                _linked(report.by_service, dimension="service", base=base, query=query),
                title="Incidents by service",
            ),
            category_bars=_linked(report.by_category, dimension="category", base=base, query=query),
            team_bars=_linked(report.by_team, dimension="team", base=base, query=query),
            between=[(b, human(b.mean)) for b in report.between],
        )
    if (table := wants_csv(request)) is not None:
        return dashboard_csv(table, context, human=human)
    return render(request, "reporting/dashboard.html", context)


# — executive reports ————————————————————————————————————————————————————————————————

PAGE_SIZE = 20


def _executive_list_url(organization) -> str:
    return reverse("reporting:executive_list", kwargs={"org_slug": organization.slug})


@org_view(Capability.VIEW_DASHBOARDS, hidden=True)
def executive_list(request, org_slug):
    """Schedules with their next run, "Generate now", and the past reports."""
    organization = request.org
    reports = (
        ExecutiveReport.objects.filter(organization=organization)
        .select_related("schedule", "generated_by")
        .defer("pdf")
    )
    if (table := wants_csv(request)) is not None:
        if table != "reports":
            raise Http404("No such table.")
        return executive_reports_csv(reports, tz=organization.tzinfo)
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "schedules": ReportSchedule.objects.filter(organization=organization).prefetch_related(
            "members"
        ),
        "page": page,
        "may_manage": can(request.membership.role, Capability.MANAGE_REPORTS),
        "generate_form": GenerateForm(),
    }
    return render(request, "reporting/executive_list.html", context)


def _schedule_form(request, schedule: ReportSchedule | None):
    organization = request.org
    form = ScheduleForm(
        request.POST if request.method == "POST" else None,
        instance=schedule,
        organization=organization,
    )
    if request.method == "POST" and form.is_valid():
        services.schedule_save(
            organization=organization,
            actor=request.user,
            schedule=form.instance,
            members=form.cleaned_data["members"],
        )
        messages.success(request, f"Schedule “{form.instance.name}” saved.")
        return redirect(_executive_list_url(organization))
    return render(request, "reporting/schedule_form.html", {"form": form, "schedule": schedule})


@org_view(Capability.MANAGE_REPORTS, hidden=True)
def schedule_create(request, org_slug):
    return _schedule_form(request, None)


@org_view(Capability.MANAGE_REPORTS, hidden=True)
def schedule_edit(request, org_slug, schedule_id):
    schedule = get_object_or_404(ReportSchedule, organization=request.org, pk=schedule_id)
    return _schedule_form(request, schedule)


@require_POST
@org_view(Capability.MANAGE_REPORTS, hidden=True)
def schedule_delete(request, org_slug, schedule_id):
    schedule = get_object_or_404(ReportSchedule, organization=request.org, pk=schedule_id)
    services.schedule_delete(organization=request.org, actor=request.user, schedule=schedule)
    messages.success(request, f"Schedule “{schedule.name}” deleted.")
    return redirect(_executive_list_url(request.org))


@require_POST
@org_view(Capability.MANAGE_REPORTS, hidden=True)
def executive_generate(request, org_slug):
    """ "Generate now": store the report of the last full week or month (not e-mailed)."""
    form = GenerateForm(request.POST)
    if form.is_valid():
        report = services.executive_report_generate(
            organization=request.org,
            actor=request.user,
            frequency=form.cleaned_data["frequency"],
        )
        messages.success(
            request,
            f"Report for {report.period_start:%-d %b %Y} – {report.period_end:%-d %b %Y} "
            "generated.",
        )
    return redirect(_executive_list_url(request.org))


@org_view(Capability.VIEW_DASHBOARDS, hidden=True)
def executive_pdf(request, org_slug, report_id):
    """The stored PDF, byte for byte."""
    report = get_object_or_404(ExecutiveReport, organization=request.org, pk=report_id)
    response = HttpResponse(bytes(report.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
