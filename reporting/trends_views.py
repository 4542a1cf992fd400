"""The trends page: weekly or monthly series with fitted trend lines, a before/after
comparison around a date, and weekly baselines with the weeks flagged as anomalies. Every
point and flagged week links to the incident list filtered the same way; each table has CSV."""

import datetime
from dataclasses import dataclass

from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from incidents.selectors import incident_list
from reporting import definitions, kpis, trends
from reporting.exports import csv_response, wants_csv
from reporting.svg import ChartPoint, line_chart
from reporting.trends_forms import BeforeAfterForm, FocusForm, TrendForm
from reporting.views import _list_query, human
from tenancy.access import org_view
from tenancy.roles import Capability

MINUS = "−"


def signed(number: float, digits: int = 1) -> str:
    """+3.2, −1, ±0 — with a real minus sign."""
    rounded = round(number, digits)
    if rounded == 0:
        return "±0"
    text = f"{abs(rounded):.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("+" if rounded > 0 else MINUS) + text


def percent(value: float | None) -> str:
    return "—" if value is None else f"{signed(value, 0)} %"


def seconds_text(value: float | None) -> str:
    return "—" if value is None else human(datetime.timedelta(seconds=value))


def slope_words(slope: float, *, measure: str, unit: str) -> str:
    """ "+3.2 incidents per week", "−1 h 10 min per month"."""
    if measure == trends.COUNT:
        return f"{signed(slope)} incidents per {unit}"
    sign = "±" if round(slope) == 0 else ("+" if slope > 0 else MINUS)
    return f"{sign}{human(datetime.timedelta(seconds=abs(slope)))} per {unit}"


def anomaly_value(measure: str, value: float) -> str:
    return f"{value:g}" if measure == trends.COUNT else seconds_text(value)


def _href(
    base: str, query: QueryDict, first: datetime.date, last: datetime.date, **extra
) -> str | None:
    """The incident list for these days (and `extra` filters); None where the list cannot
    show the same incidents: the page already filters that dimension by another value."""
    if any(query.get(name) not in (None, str(value)) for name, value in extra.items()):
        return None
    narrowed = query.copy()
    narrowed["since"], narrowed["until"] = first.isoformat(), last.isoformat()
    for name, value in extra.items():
        narrowed[name] = str(value)
    return f"{base}?{narrowed.urlencode()}"


@dataclass(frozen=True)
class Series:
    """One chart of the trend section with its changes and fitted slope."""

    key: str
    name: str
    measure: str
    chart: str
    last_change: str
    overall_change: str
    slope: str
    arithmetic: str


def _series(name, key, measure, values, labels, hrefs, texts, unit) -> Series:
    fit = trends.least_squares(values)
    present = [v for v in values if v is not None]
    points = [
        ChartPoint(label, value, text, href)
        for label, value, text, href in zip(labels, values, texts, hrefs, strict=True)
    ]
    axis = (lambda v: f"{v:g}") if measure == trends.COUNT else seconds_text
    chart = line_chart(
        points,
        title=f"{name} per {unit}",
        trend=(fit.intercept, fit.slope) if fit else None,
        axis=lambda v: axis(round(v, 1) if measure == trends.COUNT else v),
    )
    show = (lambda v: f"{v:g}") if measure == trends.COUNT else seconds_text
    last_two = values[-2:] if len(values) >= 2 else [None, None]
    arithmetic = ""
    if None not in last_two:
        arithmetic = f"last two: {show(last_two[0])} → {show(last_two[1])}"
    if len(present) >= 2:
        arithmetic += f"; first → last: {show(present[0])} → {show(present[-1])}"
    return Series(
        key,
        name,
        measure,
        chart,
        percent(trends.percent_change(*last_two)),
        percent(trends.percent_change(present[0], present[-1]) if len(present) >= 2 else None),
        slope_words(fit.slope, measure=measure, unit=unit) if fit else "—",
        arithmetic.lstrip("; "),
    )


def _filters(cleaned) -> kpis.Filters:
    return kpis.Filters(
        team=cleaned.get("team"),
        service=cleaned.get("service"),
        severity=cleaned.get("severity"),
        category=cleaned.get("category"),
        include_excluded=cleaned.get("include_excluded", False),
    )


def _ratio_text(ratio: kpis.Ratio) -> str:
    return f"{ratio.numerator} ÷ {ratio.denominator} met" if ratio.denominator else "no timer"


def _comparison_rows(before: trends.Window, after: trends.Window) -> list[dict]:
    """(name, before, after, change, percent, arithmetic) of each before/after figure."""

    def row(name, old, new, show, arithmetic):
        difference = None if old is None or new is None else new - old
        if difference is None:
            change = "—"
        elif show is seconds_text:
            change = ("+" if difference > 0 else MINUS if difference < 0 else "±") + seconds_text(
                abs(difference)
            )
        else:
            change = signed(difference, 2)
        return {
            "name": name,
            "before": show(old),
            "after": show(new),
            "change": change,
            "percent": percent(trends.percent_change(old, new)),
            "arithmetic": arithmetic,
        }

    def per_week(window):
        return f"{window.volume} ÷ {window.weeks}"

    def mean(durations):
        return None if durations.mean is None else durations.mean.total_seconds()

    def mean_arithmetic(durations):
        if not durations.count:
            return "none"
        return f"{human(durations.total)} ÷ {durations.count}"

    def count(value):
        return "—" if value is None else f"{round(value, 2):g}"

    rows = [
        row(
            "Incidents per week",
            before.per_week,
            after.per_week,
            count,
            f"{per_week(before)} → {per_week(after)}",
        ),
        row(
            definitions.BY_KEY["mttr"].name,
            mean(before.mttr),
            mean(after.mttr),
            seconds_text,
            f"{mean_arithmetic(before.mttr)} → {mean_arithmetic(after.mttr)}",
        ),
        row(
            definitions.BY_KEY["mtta"].name,
            mean(before.mtta),
            mean(after.mtta),
            seconds_text,
            f"{mean_arithmetic(before.mtta)} → {mean_arithmetic(after.mtta)}",
        ),
    ]
    for phase in before.sla:
        old, new = before.sla[phase], after.sla[phase]
        shown = row(
            f"SLA compliance: {phase.capitalize()}",
            old.percent,
            new.percent,
            lambda v: "—" if v is None else f"{v:g} %",
            f"{_ratio_text(old)} → {_ratio_text(new)}",
        )
        if old.percent is not None and new.percent is not None:
            shown["change"] = f"{signed(new.percent - old.percent)} pts"
        rows.append(shown)
    return rows


def _seconds(durations) -> list[float | None]:
    return [None if d is None else d.total_seconds() for d in durations]


def _trend_charts(points: list[trends.Point], hrefs: list[str], unit: str) -> list[Series]:
    label_format = "%-d %b" if unit == trends.WEEK else "%b %Y"
    labels = [p.period.first.strftime(label_format) for p in points]
    mttr, mtta = _seconds(p.mttr for p in points), _seconds(p.mtta for p in points)
    none = [None] * len(points)
    return [
        _series(
            "Incidents",
            "volume",
            trends.COUNT,
            [float(p.volume) for p in points],
            labels,
            hrefs,
            [f"{p.volume} incident{'s' if p.volume != 1 else ''}" for p in points],
            unit,
        ),
        _series(
            definitions.BY_KEY["mttr"].name,
            "mttr",
            trends.REPAIR,
            mttr,
            labels,
            none,
            [f"{seconds_text(v)} over {p.resolved}" for v, p in zip(mttr, points, strict=True)],
            unit,
        ),
        _series(
            definitions.BY_KEY["mtta"].name,
            "mtta",
            trends.REPAIR,
            mtta,
            labels,
            none,
            [f"{seconds_text(v)} over {p.acknowledged}" for v, p in zip(mtta, points, strict=True)],
            unit,
        ),
    ]


def _comparison(incidents, found, asked: int, tz, link) -> dict:
    (b_first, b_last), (a_first, a_last), n = found
    before = trends.window(incidents, kpis.Period(b_first, b_last, tz), n)
    after = trends.window(incidents, kpis.Period(a_first, a_last, tz), n)
    return {
        "before": before,
        "after": after,
        "weeks": n,
        "asked": asked,
        "rows": _comparison_rows(before, after),
        "before_href": link(b_first, b_last),
        "after_href": link(a_first, a_last),
    }


def _anomaly_rows(weekly: trends.Weekly, link) -> list[dict]:
    def show(measure, value):
        return anomaly_value(measure, round(value, 2))

    return [
        {
            "anomaly": a,
            "value": show(a.measure, a.value),
            "mean": show(a.measure, a.baseline.mean),
            "sigma": show(a.measure, a.baseline.sigma),
            "threshold": show(a.measure, a.baseline.threshold),
            "href": link(a.week, a.last_day, **{a.subject.dimension: a.subject.key}),
        }
        for a in trends.flagged(weekly)
    ]


def _focus_chart(weekly: trends.Weekly, subject: trends.Subject, measure: str, link):
    """The subject's weeks with the baseline band; count points link to their incidents."""
    show = (lambda v: f"{v:g}") if measure == trends.COUNT else seconds_text
    points = []
    for week in weekly.evaluate(subject, measure):
        text = "no value" if week.value is None else show(week.value)
        band = None
        if week.baseline:
            low = max(week.baseline.mean - trends.SIGMAS * week.baseline.sigma, 0)
            band = (low, week.baseline.threshold)
        href = None
        if measure == trends.COUNT:
            href = link(week.week, week.week + 6 * trends.DAY, **{subject.dimension: subject.key})
        points.append(
            ChartPoint(
                week.week.strftime("%-d %b"),
                week.value,
                text + (" — flagged" if week.flagged else ""),
                href,
                week.flagged,
                band,
            )
        )
    noun = "incidents" if measure == trends.COUNT else "mean repair time"
    return line_chart(
        points,
        title=f"{subject.label}: {noun} per week",
        width=960,
        axis=(lambda v: f"{round(v, 1):g}") if measure == trends.COUNT else seconds_text,
    )


def _csv(table: str | None, context: dict):
    """The CSV of one of the page's tables, or None."""
    if table == "series":
        return csv_response(
            "trends.csv",
            ["first day", "last day", "incidents", "resolved", "MTTR (s)"]
            + ["acknowledged", "MTTA (s)"],
            (
                [
                    p.period.first.isoformat(),
                    p.period.last.isoformat(),
                    p.volume,
                    p.resolved,
                    "" if p.mttr is None else round(p.mttr.total_seconds()),
                    p.acknowledged,
                    "" if p.mtta is None else round(p.mtta.total_seconds()),
                ]
                for p, *_ in context["rows"]
            ),
        )
    if table == "before_after" and context["comparison"]:
        return csv_response(
            "before-after.csv",
            ["figure", "before", "after", "change", "change %", "arithmetic"],
            (
                [r["name"], r["before"], r["after"], r["change"], r["percent"], r["arithmetic"]]
                for r in context["comparison"]["rows"]
            ),
        )
    if table == "anomalies":
        return csv_response(
            "anomalies.csv",
            ["dimension", "name", "measure", "week", "value", "baseline mean", "sigma"]
            + ["threshold"],
            (
                [
                    r["anomaly"].subject.dimension,
                    r["anomaly"].subject.label,
                    r["anomaly"].measure,
                    r["anomaly"].week.isoformat(),
                    f"{round(r['anomaly'].value, 2):g}",
                    f"{round(r['anomaly'].baseline.mean, 2):g}",
                    f"{round(r['anomaly'].baseline.sigma, 2):g}",
                    f"{round(r['anomaly'].baseline.threshold, 2):g}",
                ]
                for r in context["anomalies"]
            ),
        )
    return None


@org_view(Capability.VIEW_DASHBOARDS, hidden=True)
def trends_page(request, org_slug):
    """Trends, before/after and anomalies for the visible, counted incidents."""
    organization = request.org
    tz = organization.tzinfo
    today = timezone.now().astimezone(tz).date()
    form = TrendForm(request.GET, organization=organization, today=today)
    before_after = BeforeAfterForm(request.GET, today=today)
    focus_form = FocusForm(request.GET, organization=organization)
    context = {
        "form": form,
        "before_after": before_after,
        "focus_form": focus_form,
        "definitions": definitions,
    }
    if not form.is_valid():
        context["csv_error"] = wants_csv(request) is not None
        return render(request, "reporting/trends.html", context)

    cleaned = form.cleaned_data
    unit, filters = cleaned["unit"], _filters(cleaned)
    visible = incident_list(
        organization=organization, user=request.user, membership=request.membership
    )
    incidents = kpis.counted(visible, filters)
    periods = trends.buckets(unit, cleaned["since"], cleaned["until"], tz)
    whole = kpis.Period(periods[0].first, periods[-1].last, tz)
    points = trends.series(incidents, periods, unit)
    list_base = reverse("incidents:incident_list", kwargs={"org_slug": organization.slug})
    query = _list_query(whole, filters)

    def link(first, last, **extra):
        return _href(list_base, query, first, last, **extra)

    hrefs = [link(p.period.first, p.period.last) for p in points]
    weekly = trends.weekly(incidents, organization, whole)
    context.update(
        unit=unit,
        whole=whole,
        filters=filters,
        charts=_trend_charts(points, hrefs, unit),
        rows=[
            (p, href, seconds_text(m), seconds_text(a))
            for p, href, m, a in zip(
                points,
                hrefs,
                _seconds(p.mttr for p in points),
                _seconds(p.mtta for p in points),
                strict=True,
            )
        ],
        volume_href=f"{list_base}?{query.urlencode()}",
        comparison=None,
        anomalies=_anomaly_rows(weekly, link),
        weeks_checked=len(weekly.weeks),
        focus_chart=None,
    )
    if before_after.is_valid() and "windows" in before_after.cleaned_data:
        ba = before_after.cleaned_data
        context["comparison"] = _comparison(incidents, ba["windows"], ba["weeks"], tz, link)
    if focus_form.is_valid() and focus_form.cleaned_data["focus"]:
        dimension, _, key = focus_form.cleaned_data["focus"].partition(":")
        subject = next(
            (s for s in weekly.subjects if s.dimension == dimension and str(s.key) == key), None
        )
        if subject is not None:
            measure = focus_form.cleaned_data["measure"]
            context["focus_subject"] = subject
            context["focus_chart"] = _focus_chart(weekly, subject, measure, link)
    return _csv(wants_csv(request), context) or render(request, "reporting/trends.html", context)
