"""The executive report: one organisation's KPIs for the last full week or month as a PDF —
the dashboard's figures with their arithmetic and the same SVG charts, the previous period for
comparison, top services, overdue action items and SLA breaches.

An organisation-level report counts every incident of the organisation, restricted ones too
(it goes to managers), but never prints a restricted incident's title, nor the titles of its
action items: those lines show the incident key and "restricted incident"."""

import datetime
import re
import zlib
import zoneinfo
from dataclasses import dataclass

from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.pdf import render_pdf
from incidents.models import Incident, SlaTimer
from postmortems.models import ActionItem
from reporting import kpis
from reporting import views as dashboard  # the dashboard's KPI rows, word for word
from reporting.svg import ChartBar, bar_chart

WEEKLY, MONTHLY = "weekly", "monthly"
TOP_SERVICES = 5
LIST_LIMIT = 25
RESTRICTED = "restricted incident"


def last_full_period(frequency: str, day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last full week (Monday to Sunday) or calendar month that ended before `day`."""
    if frequency == WEEKLY:
        last = day - datetime.timedelta(days=day.weekday() + 1)
        return last - datetime.timedelta(days=6), last
    last = day.replace(day=1) - datetime.timedelta(days=1)
    return last.replace(day=1), last


def previous_period(frequency: str, first: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The week or month just before the one starting on `first`."""
    return last_full_period(frequency, first)


def next_run(
    *,
    frequency: str,
    weekday: int | None,
    day_of_month: int | None,
    hour: int,
    tz: zoneinfo.ZoneInfo,
    after: datetime.datetime,
) -> datetime.datetime:
    """The first moment strictly after `after` at `hour` o'clock in `tz` on the schedule's
    weekday (weekly) or day of month (monthly)."""
    local = after.astimezone(tz)
    at = datetime.time(hour)
    if frequency == WEEKLY:
        day = local.date() + datetime.timedelta(days=(weekday - local.weekday()) % 7)
        candidate = datetime.datetime.combine(day, at, tzinfo=tz)
        if candidate <= after:
            candidate = datetime.datetime.combine(day + datetime.timedelta(days=7), at, tzinfo=tz)
        return candidate
    year, month = local.year, local.month
    candidate = datetime.datetime.combine(datetime.date(year, month, day_of_month), at, tzinfo=tz)
    if candidate <= after:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        candidate = datetime.datetime.combine(
            datetime.date(year, month, day_of_month), at, tzinfo=tz
        )
    return candidate


# — content ——————————————————————————————————————————————————————————————————————————


def _raw(report: kpis.Report) -> list[float | None]:
    """The numbers behind `dashboard.kpi_rows(report)`, row for row, for the comparison."""

    def seconds(durations):
        return durations.mean.total_seconds() if durations.mean is not None else None

    values: list[float | None] = [report.volume, seconds(report.mtta), seconds(report.mttr)]
    values += [ratio.percent for ratio in report.sla.values()]
    values += [
        ratio.percent
        for ratio in (
            report.cadence,
            report.postmortem_completion,
            report.postmortem_timeliness,
            report.action_items,
            report.action_items_on_time,
            report.reopen_rate,
            report.alert_share,
        )
    ]
    return values


def change(current: float | None, previous: float | None, *, is_percent: bool) -> str:
    """+50 % for counts and durations; +5 pts for rates; — where there is nothing to compare."""
    if current is None or previous is None:
        return "—"
    if is_percent:
        points = round(current - previous, 1)
        return "±0 pts" if points == 0 else f"{points:+g} pts"
    if previous == 0:
        return "—" if current == 0 else "new"
    percent = round(100 * (current - previous) / previous)
    return "±0 %" if percent == 0 else f"{percent:+d} %"


@dataclass(frozen=True)
class Comparison:
    row: object
    previous: str
    change: str


def _title(incident_title: str, is_restricted: bool) -> str:
    return RESTRICTED if is_restricted else incident_title


def context(*, organization, first: datetime.date, last: datetime.date, frequency: str) -> dict:
    """Everything the PDF prints, computed with the dashboard's KPI engine over all of the
    organisation's incidents (restricted included) with the default exclusions."""
    tz = organization.tzinfo
    incidents: QuerySet[Incident] = Incident.objects.filter(organization=organization)
    period = kpis.Period(first, last, tz)
    before = kpis.Period(*previous_period(frequency, first), tz)
    filters = kpis.Filters()
    report = kpis.report(
        incidents=incidents, organization=organization, period=period, filters=filters
    )
    earlier = kpis.report(
        incidents=incidents, organization=organization, period=before, filters=filters
    )
    rows = dashboard.kpi_rows(report, volume_href="")
    previous_rows = dashboard.kpi_rows(earlier, volume_href="")
    comparisons = [
        Comparison(row, old.value, change(now, then, is_percent=index > 2))
        for index, (row, old, now, then) in enumerate(
            zip(rows, previous_rows, _raw(report), _raw(earlier), strict=True)
        )
    ]
    counted = kpis.counted(incidents, filters)
    overdue = (
        ActionItem.objects.filter(
            postmortem__incident__in=counted.values("pk"),
            due_date__lte=last,
            status__in=[ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS],
        )
        .select_related("postmortem__incident", "owner")
        .order_by("due_date", "pk")
    )
    breaches = (
        SlaTimer.objects.filter(incident__in=counted.values("pk"), breached_at__isnull=False)
        .filter(period.q("breached_at"))
        .select_related("incident")
        .order_by("breached_at", "pk")
    )
    overdue_count, breach_count = overdue.count(), breaches.count()
    return {
        "organization": organization,
        "frequency": frequency,
        "period": period,
        "previous": before,
        "report": report,
        "comparisons": comparisons,
        "severity_chart": bar_chart(
            [ChartBar(bar.label, bar.count) for bar in report.by_severity],
            title="Incidents by severity",
        )
        if report.by_severity
        else None,
        "service_chart": bar_chart(
            [ChartBar(bar.label, bar.count) for bar in report.by_service[:10]],
            title="Incidents by service",
        )
        if report.by_service
        else None,
        "top_services": report.by_service[:TOP_SERVICES],
        "overdue": [
            {
                "key": item.postmortem.incident.key,
                "title": _title(item.title, item.postmortem.incident.is_restricted),
                "incident": _title(
                    item.postmortem.incident.title, item.postmortem.incident.is_restricted
                ),
                "owner": item.owner.display_name if item.owner_id else "—",
                "due": item.due_date,
                "days": (last - item.due_date).days,
            }
            for item in overdue[:LIST_LIMIT]
        ],
        "overdue_count": overdue_count,
        "breaches": [
            {
                "key": timer.incident.key,
                "title": _title(timer.incident.title, timer.incident.is_restricted),
                "phase": timer.get_phase_display(),
                "breached_at": timezone.localtime(timer.breached_at, tz),
                "target": dashboard.human(datetime.timedelta(minutes=timer.target_minutes)),
            }
            for timer in breaches[:LIST_LIMIT]
        ],
        "breach_count": breach_count,
        "anomalies": _anomalies(counted, organization, period),
    }


def _anomalies(counted: QuerySet[Incident], organization, period: kpis.Period) -> list[dict]:
    """The weeks of the period flagged against their baseline (reporting.trends)."""
    from reporting import trends, trends_views  # the trends page's words for the values

    def show(measure, value):
        return trends_views.anomaly_value(measure, round(value, 2))

    return [
        {
            "label": a.subject.label,
            "dimension": a.subject.dimension,
            "measure": a.measure,
            "week": a.week,
            "last_day": a.last_day,
            "value": show(a.measure, a.value),
            "mean": show(a.measure, a.baseline.mean),
            "sigma": show(a.measure, a.baseline.sigma),
            "threshold": show(a.measure, a.baseline.threshold),
        }
        for a in trends.anomalies(counted, organization, period)
    ]


PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
STREAM = re.compile(rb"<<(?:(?!>>).)*?/Type\s*/ObjStm.*?>>\s*stream\r?\n(.*?)endstream", re.S)


def page_count(pdf: bytes) -> int:
    """Pages of a PDF written by WeasyPrint: its page objects sit in the file or, compressed,
    in object streams (FlateDecode), which are inflated to count them."""
    count = len(PAGE.findall(pdf))
    for match in STREAM.finditer(pdf):
        try:
            count += len(PAGE.findall(zlib.decompressobj().decompress(match.group(1))))
        except zlib.error:
            continue
    return count


def render(*, organization, first, last, frequency, generated_at) -> bytes:
    """The PDF of the executive report."""
    data = context(organization=organization, first=first, last=last, frequency=frequency)
    data["generated_at"] = generated_at
    with timezone.override(organization.tzinfo):  # every date printed in the org's time zone
        html = render_to_string("reporting/executive_pdf.html", data)
    return render_pdf(html)
