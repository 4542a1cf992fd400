"""The dashboard's KPIs over the API: `GET /kpis/` computes `reporting.kpis.report` over the
incidents the reader may see, exactly as the dashboard (reporting/views.py `dashboard`) does,
with the same filter form, and returns each KPI with its value, numerator, denominator and
written definition (reporting/definitions.py). `view_dashboards` (managers, compliance, admins);
other roles get 404, as the dashboard answers them."""

import datetime

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.base import OrgAPIView
from incidents.selectors import incident_list
from reporting import definitions, kpis
from reporting.forms import LONGEST_DAYS, ReportFilterForm
from tenancy.roles import Capability

DURATION = "seconds"
RATIO = "ratio"
COUNT = "count"


class KpiSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The definition's key (several rows may share one).")
    name = serializers.CharField()
    unit = serializers.ChoiceField(
        choices=[COUNT, DURATION, RATIO],
        help_text="count; seconds (value = the mean, numerator = summed seconds, denominator = "
        "incidents); ratio (value = numerator ÷ denominator, 0–1).",
    )
    value = serializers.FloatField(allow_null=True, help_text="Null when nothing was measured.")
    numerator = serializers.FloatField()
    denominator = serializers.IntegerField()
    median = serializers.FloatField(
        allow_null=True, required=False, help_text="Durations only: the median, in seconds."
    )
    definition = serializers.CharField()


class BarSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, source="key")
    label = serializers.CharField()
    count = serializers.IntegerField()


class BetweenSerializer(serializers.Serializer):
    service = serializers.IntegerField(source="service_id")
    label = serializers.CharField()
    count = serializers.IntegerField()
    mean_seconds = serializers.FloatField()


class PeriodSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    time_zone = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Exclusive.")


class KpiReportSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = serializers.DictField(child=serializers.JSONField())
    kpis = KpiSerializer(many=True)
    excluded = serializers.IntegerField(
        help_text="Incidents left out by the exclusions (0 with include_excluded)."
    )
    by_severity = BarSerializer(many=True)
    by_category = BarSerializer(many=True)
    by_service = BarSerializer(many=True)
    by_team = BarSerializer(many=True)
    between = BetweenSerializer(many=True)
    notes = serializers.DictField(
        child=serializers.CharField(), help_text="The period, exclusion and filter rules."
    )


def _seconds(value: datetime.timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _ratio(key: str, ratio: kpis.Ratio | None, name: str | None = None) -> dict:
    definition = definitions.BY_KEY[key]
    ratio = ratio or kpis.Ratio(0, 0)
    return {
        "key": key,
        "name": name or definition.name,
        "unit": RATIO,
        "value": ratio.value,
        "numerator": ratio.numerator,
        "denominator": ratio.denominator,
        "definition": definition.text,
    }


def _duration(key: str, durations: kpis.Durations | None) -> dict:
    definition = definitions.BY_KEY[key]
    count = durations.count if durations else 0
    return {
        "key": key,
        "name": definition.name,
        "unit": DURATION,
        "value": _seconds(durations.mean) if count else None,
        "numerator": (_seconds(durations.total) or 0.0) if count else 0.0,
        "denominator": count,
        "median": _seconds(durations.median) if count else None,
        "definition": definition.text,
    }


def kpi_list(report: kpis.Report) -> list[dict]:
    """The dashboard's KPI table (reporting.views.kpi_rows), as numbers."""
    volume = definitions.BY_KEY["volume"]
    rows = [
        {
            "key": "volume",
            "name": volume.name,
            "unit": COUNT,
            "value": float(report.volume),
            "numerator": float(report.volume),
            "denominator": 1,
            "definition": volume.text,
        },
        _duration("mtta", report.mtta),
        _duration("mttr", report.mttr),
    ]
    for phase, ratio in report.sla.items():
        rows.append(_ratio("sla", ratio, f"SLA compliance: {phase.capitalize()}"))
    rows += [
        _ratio("cadence", report.cadence),
        _ratio("postmortem_completion", report.postmortem_completion),
        _ratio("postmortem_timeliness", report.postmortem_timeliness),
        _ratio("action_items", report.action_items),
        _ratio("action_items", report.action_items_on_time, "Action items done on time"),
        _ratio("reopen_rate", report.reopen_rate),
        _ratio("alert_share", report.alert_share),
    ]
    return rows


PARAMETERS = [
    OpenApiParameter(
        "since",
        OpenApiTypes.DATE,
        description="First day (organisation's time zone). With `until`; default: the last 30 "
        f"days. At most {LONGEST_DAYS} days.",
    ),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Last day, included."),
    OpenApiParameter("team", OpenApiTypes.INT, description="Owning or involved team id."),
    OpenApiParameter("service", OpenApiTypes.INT, description="Primary or affected service id."),
    OpenApiParameter("severity", OpenApiTypes.INT, description="Severity level id."),
    OpenApiParameter("category", OpenApiTypes.INT, description="Category id."),
    OpenApiParameter("include_excluded", OpenApiTypes.BOOL),
]
FORM_FIELDS = ("since", "until", "team", "service", "severity", "category", "include_excluded")


class KpiView(OrgAPIView):
    """Every KPI of the dashboard for a period and filters, with its arithmetic and definition.
    Restricted incidents count only for readers who may open them."""

    capability = Capability.VIEW_DASHBOARDS
    hidden = True  # as the dashboard: org_view(VIEW_DASHBOARDS, hidden=True)

    @extend_schema(operation_id="kpis", parameters=PARAMETERS, responses=KpiReportSerializer)
    def get(self, request):
        organization = self.org
        tz = organization.tzinfo
        today = timezone.now().astimezone(tz).date()
        params = request.query_params
        unknown = sorted(set(params) - set(FORM_FIELDS))
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        data = QueryDict(mutable=True)
        for name in FORM_FIELDS:
            if name in params:
                data[name] = params[name]
        if "include_excluded" in data:
            flag = data["include_excluded"].lower()
            if flag not in ("true", "false", "1", "0"):
                raise ValidationError({"include_excluded": ["Give true or false."]})
            data["include_excluded"] = "on" if flag in ("true", "1") else ""
        if "since" in data or "until" in data:
            data["period"] = "custom"
        else:
            data["period"] = "30"
        form = ReportFilterForm(data, organization=organization, today=today)
        if not form.is_valid():
            errors = {
                ("non_field_errors" if name == "__all__" else name): messages
                for name, messages in form.errors.items()
            }
            raise ValidationError(errors)
        period, filters = form.chosen_period(tz), form.chosen_filters()
        visible = incident_list(
            organization=organization, user=request.user, membership=self.membership
        )
        report = kpis.report(
            incidents=visible, organization=organization, period=period, filters=filters
        )
        body = {
            "period": {
                "since": period.first,
                "until": period.last,
                "time_zone": str(tz),
                "start": period.start,
                "end": period.end,
            },
            "filters": {
                "team": filters.team.pk if filters.team else None,
                "service": filters.service.pk if filters.service else None,
                "severity": filters.severity.pk if filters.severity else None,
                "category": filters.category.pk if filters.category else None,
                "include_excluded": filters.include_excluded,
            },
            "kpis": kpi_list(report),
            "excluded": report.excluded,
            "by_severity": report.by_severity,
            "by_category": report.by_category,
            "by_service": report.by_service,
            "by_team": report.by_team,
            "between": [
                {
                    "service_id": b.service_id,
                    "label": b.label,
                    "count": b.count,
                    "mean_seconds": b.mean.total_seconds(),
                }
                for b in report.between
            ],
            "notes": {
                "period": definitions.PERIOD,
                "exclusions": definitions.EXCLUSIONS,
                "filters": definitions.FILTERS,
                "between": definitions.BY_KEY["between"].text,
            },
        }
        return Response(KpiReportSerializer(body).data)
