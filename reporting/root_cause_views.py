"""The root-cause breakdown: counted incidents resolved in the period by root-cause category,
as a chart and per month, each number linked to the incident list, and the post-mortems
behind them."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from compliance import masking
from incidents.selectors import incident_list
from reporting import definitions, kpis, root_causes
from reporting.exports import csv_response, wants_csv
from reporting.forms import ReportFilterForm
from reporting.svg import ChartBar, bar_chart
from reporting.views import _linked, _list_query
from tenancy.access import org_view
from tenancy.roles import Capability

PAGE_SIZE = 20
TABLES = ("causes", "months", "postmortems")


def _resolved_query(period: kpis.Period, filters: kpis.Filters):
    """The incident list's query for counted incidents resolved in the period."""
    query = _list_query(period, filters)
    del query["since"], query["until"]
    query["resolved_since"] = period.first.isoformat()
    query["resolved_until"] = period.last.isoformat()
    return query


def _month_rows(months, keys, *, base, query):
    """[(month, [(count, href) per root cause], total, total_href)]."""
    rows = []
    for month in months:
        narrowed = query.copy()
        narrowed["resolved_since"] = month.first.isoformat()
        narrowed["resolved_until"] = month.last.isoformat()
        cells = []
        for key in keys:
            count = month.counts.get(key, 0)
            cell = narrowed.copy()
            cell["root_cause"] = key
            cells.append((count, f"{base}?{cell.urlencode()}" if count else None))
        total_href = f"{base}?{narrowed.urlencode()}" if month.total else None
        rows.append((month, cells, month.total, total_href))
    return rows


@org_view(Capability.VIEW_DASHBOARDS, hidden=True)
def root_cause_breakdown(request, org_slug):
    organization = request.org
    tz = organization.tzinfo
    today = timezone.now().astimezone(tz).date()
    form = ReportFilterForm(request.GET, organization=organization, today=today)
    context = {"form": form, "period": None, "definitions": definitions}
    if form.is_valid():
        period, filters = form.chosen_period(tz), form.chosen_filters()
        visible = incident_list(
            organization=organization, user=request.user, membership=request.membership
        )
        resolved = root_causes.resolved(visible, period, filters)
        bars = root_causes.by_root_cause(resolved)
        base = reverse("incidents:incident_list", kwargs={"org_slug": organization.slug})
        query = _resolved_query(period, filters)
        linked = _linked(bars, dimension="root_cause", base=base, query=query)
        months = root_causes.by_month(resolved, period)
        keys = [bar.key for bar in bars]
        postmortems = root_causes.postmortems_behind(resolved)
        keep = request.GET.copy()
        keep.pop("page", None)
        context.update(
            period=period,
            filters=filters,
            bars=linked,
            total=sum(bar.count for bar in bars),
            total_href=f"{base}?{query.urlencode()}",
            chart=bar_chart(
                [ChartBar(bar.label, bar.count, href) for bar, href in linked],
                title="Incidents resolved in the period by root cause",
                width=560,
                label_width=250,
                label_limit=34,
            )
            if linked
            else None,
            columns=[(bar.key, bar.label) for bar in bars],
            month_rows=_month_rows(months, keys, base=base, query=query),
            postmortems=postmortems,
            page=Paginator(postmortems, PAGE_SIZE).get_page(request.GET.get("page")),
            query=keep.urlencode(),
            labels=root_causes.LABELS,
        )
    if (table := wants_csv(request)) is not None:
        return _csv(table, context)
    return render(request, "reporting/root_causes.html", context)


def _csv(table: str, context: dict):
    if table not in TABLES:
        raise Http404("No such table.")
    period = context["period"]
    if period is None:
        return HttpResponse(
            "The filters are not valid: "
            + " ".join(" ".join(errors) for errors in context["form"].errors.values()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    if table == "causes":
        header = ["Root cause", "Incidents resolved"]
        rows = [(bar.label, bar.count) for bar, _ in context["bars"]]
    elif table == "months":
        header = ["Month", "First day", "Last day", *[label for _, label in context["columns"]]]
        header.append("Total")
        rows = [
            (
                f"{month.first:%Y-%m}",
                month.first.isoformat(),
                month.last.isoformat(),
                *[count for count, _ in cells],
                total,
            )
            for month, cells, total, _ in context["month_rows"]
        ]
    else:
        labels = context["labels"]
        header = ["Incident", "Title", "Root cause", "Post-mortem status", "Resolved at"]
        rows = [
            (
                pm.incident.key,
                masking.mask_text(pm.incident.title),
                labels.get(pm.incident.root_cause_category or root_causes.NOT_SET),
                pm.get_status_display(),
                pm.incident.resolved_at.astimezone(period.tz).isoformat(timespec="minutes"),
            )
            for pm in context["postmortems"]
        ]
    filename = f"root-causes-{table}-{period.first:%Y-%m-%d}-{period.last:%Y-%m-%d}.csv"
    return csv_response(filename, header, rows)
