"""Alerts and alert groups over the API (read only; `view_alerts`, which every role holds).

- `GET /alerts/`, `GET /alerts/<id>/`             normalised alerts, newest received first
- `GET /alert-groups/`, `GET /alert-groups/<id>/` groups, most recently seen first

As on the source health page (integrations/selectors.py `source_health`): a group or alert
linked to a restricted incident the reader may not open is listed, but its incident is not named
(`incident` null, `incident_restricted` true). Alert descriptions and annotation values are free
text from the sender and may carry personal data: they are masked (compliance.masking) — no
reader has revealed an alert, as the browser's `|mask` with no subject."""

import datetime

from django.db.models import Exists, F, OuterRef, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response

from api.base import OrgScopedMixin
from api.calls import cursor
from compliance.masking import mask_text
from incidents.models import Incident
from incidents.selectors import visibility_filter
from integrations.models import Alert, AlertGroup
from tenancy.roles import Capability


class _IncidentRef(serializers.Serializer):
    incident = serializers.SerializerMethodField(
        help_text="The incident's key; null when none, or when the reader may not open it."
    )
    incident_restricted = serializers.SerializerMethodField(
        help_text="True when linked to an incident this reader may not open."
    )

    def get_incident(self, row) -> str | None:
        return row.incident_key if row.incident_ref and row.incident_visible else None

    def get_incident_restricted(self, row) -> bool:
        return bool(row.incident_ref and not row.incident_visible)


class AlertGroupSerializer(_IncidentRef):
    id = serializers.IntegerField()
    source = serializers.IntegerField(source="source_id")
    source_name = serializers.CharField(source="source.name")
    fingerprint = serializers.CharField()
    status = serializers.CharField(help_text="firing or resolved.")
    title = serializers.CharField()
    severity = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    count = serializers.IntegerField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    is_suppressed = serializers.BooleanField()
    suppressed_reason = serializers.CharField()


def _masked_annotations(value) -> dict:
    if not isinstance(value, dict):
        return {}
    return {str(k): mask_text(str(v)) for k, v in value.items()}


class AlertSerializer(_IncidentRef):
    id = serializers.IntegerField()
    source = serializers.IntegerField(source="source_id")
    source_name = serializers.CharField(source="source.name")
    group = serializers.IntegerField(source="group_id", allow_null=True)
    fingerprint = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    annotations = serializers.SerializerMethodField(help_text="Values masked.")
    description = serializers.SerializerMethodField(help_text="Masked.")
    links = serializers.ListField(child=serializers.JSONField())
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField()
    incident_linked_at = serializers.DateTimeField(allow_null=True)
    suppressed = serializers.SerializerMethodField(help_text="Suppressed by a maintenance window.")

    def get_annotations(self, alert) -> dict[str, str]:
        return _masked_annotations(alert.annotations)

    def get_description(self, alert) -> str:
        return mask_text(alert.description or "")

    def get_suppressed(self, alert) -> bool:
        return alert.suppressed_by_id is not None


def _parse_time(params, name: str) -> datetime.datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    value = serializers.DateTimeField().to_internal_value  # ISO 8601, naive = org time zone
    try:
        return value(raw)
    except serializers.ValidationError as error:
        raise ValidationError({name: error.detail}) from error


def _positive_int(params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1 or int(raw) > 2**63 - 1:
        raise ValidationError({name: ["Give a positive whole number."]})
    return int(raw)


TIME_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="At or after (ISO 8601)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Before (ISO 8601)."),
    OpenApiParameter("source", OpenApiTypes.INT, description="Alert source id."),
]


class _AlertReads(OrgScopedMixin):
    capability = Capability.VIEW_ALERTS
    hidden = False
    model = None
    incident_path = "incident"  # how a row reaches its incident
    time_field = ""
    status_choices: tuple = ()

    def get_queryset(self):
        membership = self.membership
        path = self.incident_path
        visible = Exists(
            Incident.objects.filter(pk=OuterRef(f"{path}_id")).filter(
                visibility_filter(user=self.request.user, membership=membership)
            )
        )
        return (
            self.model.objects.filter(organization=self.org)
            .select_related("source")
            .annotate(
                incident_ref=F(f"{path}_id"),
                incident_key=F(f"{path}__key"),
                incident_visible=visible,
            )
        )

    def filter_queryset(self, queryset):
        params = self.request.query_params
        status = params.get("status")
        if status is not None:
            if status not in self.status_choices:
                raise ValidationError(
                    {"status": [f"Choose one of {', '.join(self.status_choices)}."]}
                )
            queryset = queryset.filter(status=status)
        source = _positive_int(params, "source")
        if source is not None:
            queryset = queryset.filter(source_id=source)
        since, until = _parse_time(params, "since"), _parse_time(params, "until")
        if since and until and since >= until:
            raise ValidationError({"until": ["Must be after `since`."]})
        if since:
            queryset = queryset.filter(Q(**{f"{self.time_field}__gte": since}))
        if until:
            queryset = queryset.filter(Q(**{f"{self.time_field}__lt": until}))
        return queryset


class AlertGroupList(_AlertReads, ListAPIView):
    """Alert groups, most recently seen first. Filters: `status` (firing, resolved), `source`,
    `since`/`until` on the last time seen."""

    model = AlertGroup
    time_field = "last_seen"
    status_choices = tuple(AlertGroup.Status.values)
    serializer_class = AlertGroupSerializer
    pagination_class = cursor("-last_seen", "-pk")

    @extend_schema(
        operation_id="alert_groups",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=AlertGroup.Status.values),
            *TIME_PARAMETERS,
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertGroupDetail(_AlertReads, RetrieveAPIView):
    model = AlertGroup
    serializer_class = AlertGroupSerializer

    @extend_schema(operation_id="alert_group")
    def get(self, request, *args, **kwargs):
        return _one(self, kwargs["pk"], "alert group")


class AlertList(_AlertReads, ListAPIView):
    """Alerts as received, newest first. Filters: `status` (firing, resolved), `source`,
    `since`/`until` on the received time."""

    model = Alert
    incident_path = "group__incident"  # an alert's incident is its group's
    time_field = "received_at"
    status_choices = ("firing", "resolved")
    serializer_class = AlertSerializer
    pagination_class = cursor("-received_at", "-pk")

    @extend_schema(
        operation_id="alerts",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=["firing", "resolved"]),
            *TIME_PARAMETERS,
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AlertDetail(_AlertReads, RetrieveAPIView):
    model = Alert
    incident_path = "group__incident"
    serializer_class = AlertSerializer

    @extend_schema(operation_id="alert")
    def get(self, request, *args, **kwargs):
        return _one(self, kwargs["pk"], "alert")


def _one(view, pk: int, what: str) -> Response:
    row = view.get_queryset().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No such {what}.")
    return Response(view.get_serializer(row).data)
