"""The responders' team view: one of the reader's teams, its KPIs over the last 7, 30 or 90
days, its open incidents by severity and its action items overdue or due soon."""

import datetime

from django import forms
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from incidents.selectors import incident_list
from reporting import definitions, kpis, teams
from reporting.exports import csv_response, wants_csv
from reporting.views import _chart, _linked, _list_query, kpi_rows
from tenancy.access import org_view
from tenancy.roles import Capability, can

TEAM_TABLES = ("kpis", "open", "actions")
TEAM_PERIODS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]


def today_in(tz) -> datetime.date:
    """Today in the organisation's time zone (the period ends today)."""
    return timezone.now().astimezone(tz).date()


class TeamPeriodForm(forms.Form):
    period = forms.ChoiceField(choices=TEAM_PERIODS, initial="30")


def _chosen_team(request, choices):
    """The team asked for (`?team=<id>`), the reader's first own team when none is asked for, or
    404 for any team the reader may not choose — the same answer as for one that does not
    exist, so the page never reveals another team."""
    wanted = request.GET.get("team", "")
    if not wanted:
        # The reader's own team first; a manager in no team sees the first team.
        return next((t for t in choices if t.is_mine), choices[0] if choices else None)
    for team in choices:
        if str(team.pk) == wanted:
            return team
    raise Http404("No such team.")


@org_view(Capability.VIEW_INCIDENTS, hidden=True)
def team_view(request, org_slug):
    organization = request.org
    tz = organization.tzinfo
    today = today_in(tz)
    choices = list(
        teams.team_choices(
            organization=organization, user=request.user, membership=request.membership
        )
    )
    team = _chosen_team(request, choices)
    data = request.GET.copy()
    data.setdefault("period", "30")
    form = TeamPeriodForm(data)
    context = {
        "choices": choices,
        "team": team,
        "form": form,
        "report": None,
        "may_choose_any": can(request.membership.role, Capability.VIEW_DASHBOARDS),
        "definitions": definitions,
    }
    if team is not None and form.is_valid():
        days = int(form.cleaned_data["period"])
        period = kpis.Period(today - datetime.timedelta(days=days - 1), today, tz)
        filters = kpis.Filters(team=team)
        visible = incident_list(
            organization=organization, user=request.user, membership=request.membership
        )
        report = kpis.report(
            incidents=visible, organization=organization, period=period, filters=filters
        )
        base = reverse("incidents:incident_list", kwargs={"org_slug": organization.slug})
        query = _list_query(period, filters)
        volume_href = f"{base}?{query.urlencode()}"
        open_query = query.copy()
        del open_query["since"], open_query["until"]
        open_query["status"] = "open"
        context.update(
            report=report,
            today=today,
            rows=kpi_rows(report, volume_href),
            severity_chart=_chart(
                _linked(report.by_severity, dimension="severity", base=base, query=query),
                title=f"Incidents of {team.name} by severity",
            ),
            open_bars=_linked(
                teams.open_by_severity(visible, team),
                dimension="severity",
                base=base,
                query=open_query,
            ),
            open_href=f"{base}?{open_query.urlencode()}",
            action_items=list(teams.action_items_due(visible, team, today)),
            due_soon_days=teams.DUE_SOON_DAYS,
        )
    if (table := wants_csv(request)) is not None:
        return _team_csv(table, context)
    return render(request, "reporting/team.html", context)


def _team_csv(table: str, context: dict):
    """One of the team view's tables as CSV, from the page's own context."""
    if table not in TEAM_TABLES or context["report"] is None:
        raise Http404("No such table.")
    team, period = context["team"], context["report"].period
    if table == "kpis":
        header = ["Indicator", "Value", "Arithmetic", "Definition"]
        rows = [(r.name, r.value, r.arithmetic, r.definition.text) for r in context["rows"]]
    elif table == "open":
        header = ["Severity", "Open incidents"]
        rows = [(bar.label, bar.count) for bar, _ in context["open_bars"]]
    else:
        header = ["Due", "Overdue", "Action item", "Status", "Owner", "Incident"]
        rows = [
            (
                item.due_date.isoformat(),
                "yes" if item.due_date < context["today"] else "no",
                item.title,
                item.get_status_display(),
                item.owner.display_name if item.owner else "",
                item.postmortem.incident.key,
            )
            for item in context["action_items"]
        ]
    filename = f"team-{team.pk}-{table}-{period.first:%Y-%m-%d}-{period.last:%Y-%m-%d}.csv"
    return csv_response(filename, header, rows)
