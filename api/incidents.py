"""`/api/v1/incidents/`: list (the list page's filters), retrieve by key, declare, update
allowed fields, and one endpoint per lifecycle transition. Every read goes through
incidents.selectors (restricted incidents invisible without access) and is masked as the
browser masks it; every write goes through incidents.services, as the browser's forms do."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from api.base import OrgAPIView
from api.incident_serializers import (
    TRANSITION_NAMES,
    ErrorSerializer,
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    RequirementsMissingSerializer,
    TransitionSerializer,
)
from api.lookups import visible_incident
from api.pagination import Cursor
from compliance import unmask
from incidents import selectors, services
from incidents.filters import IncidentFilterSet
from incidents.lifecycle import Status
from incidents.models import Incident
from taxonomy.assessment import Answers
from taxonomy.models import CustomFieldDefinition
from tenancy.roles import Capability

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    429: ErrorSerializer,
}


class Unprocessable(ValidationError):
    """The request is well-formed but the incident's rules refuse it (422)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class StaleVersion(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "stale_version"
    default_detail = services.ConcurrentChange().messages[0]


def refusal(error: Exception) -> APIException:
    """A service's refusal as the API's error: who may not → 403, a stale version → 409,
    anything else the rules refuse → 422 naming each field."""
    if isinstance(error, DjangoPermissionDenied):
        return PermissionDenied(str(error) or "Your role may not do this.")
    if isinstance(error, services.ConcurrentChange):
        return StaleVersion()
    if hasattr(error, "error_dict"):
        return Unprocessable(error.message_dict)
    return Unprocessable({"non_field_errors": error.messages})


class ApiIncidentFilterSet(IncidentFilterSet):
    """The list page's filters. `sort` is left out: a cursor needs one stable order (newest
    first, by number)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters.pop("sort", None)

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).order_by("-number")


class IncidentCursor(Cursor):
    ordering = "-number"


FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Full-text search (title, description, key)."),
    OpenApiParameter(
        "status", str, enum=["open", *Status.values], description="`open`: any open status."
    ),
    OpenApiParameter("severity", int, description="Severity level id."),
    OpenApiParameter("category", int, description="Category id."),
    OpenApiParameter("service", int, description="Service id (primary or affected)."),
    OpenApiParameter("team", int, description="Team id (owning or involved)."),
    OpenApiParameter("commander", int, description="User id of the commander."),
    OpenApiParameter("is_restricted", bool),
    OpenApiParameter("kind", str, enum=Incident.Kind.values),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Reported on or after."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Reported on or before."),
    OpenApiParameter("counted", bool, description="Counts in metrics."),
    OpenApiParameter("sla", str, enum=["breaching", "breached"]),
    OpenApiParameter(
        "cf_<key>",
        str,
        description="A filterable custom field (choice, boolean, text, number) by its key.",
    ),
]


def _definitions(organization) -> dict:
    return {d.key: d for d in CustomFieldDefinition.objects.filter(organization=organization)}


def _body(view, incident: Incident) -> dict:
    if not hasattr(incident, "reveal"):
        incident.reveal = unmask.request_reveal(view.request._request, incident)
    context = {"definitions": _definitions(view.org)}
    return IncidentSerializer(incident, context=context).data


def _present(view, incident: Incident, status_code=200, headers=None) -> Response:
    return Response(_body(view, incident), status=status_code, headers=headers)


def _replayed(view, pk: int) -> dict:
    """The incident an idempotent POST made or changed, as the reader sees it now (an
    `Idempotency-Key` replay): 404 when they no longer may."""
    key = Incident.objects.filter(organization=view.org, pk=pk).values_list("key", flat=True)
    if not key:
        raise NotFound("No such incident.")
    return _body(view, visible_incident(view.request, key[0]))


def _reload(view, incident: Incident) -> Incident:
    """The incident as the reader now sees it, after a write (404 if they no longer may)."""
    return visible_incident(view.request, incident.key)


def _input(serializer_class, view, data, **kwargs):
    serializer = serializer_class(data=data, context={"organization": view.org}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class IncidentListView(OrgAPIView):
    capability = Capability.VIEW_INCIDENTS
    write_capability = Capability.CREATE_INCIDENTS
    hidden = False
    pagination_class = IncidentCursor  # read by the schema; get() paginates itself

    @extend_schema(
        operation_id="incidents_list",
        parameters=FILTER_PARAMETERS,
        responses={200: IncidentSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        """Incidents the token's user may see, newest first, with the list page's filters;
        a bad filter value is a 400 naming the filter."""
        django_request = request._request
        queryset = selectors.with_sla(
            selectors.incident_list(
                organization=self.org, user=request.user, membership=self.membership
            )
        ).prefetch_related("affected_services", "involved_teams")
        queryset = queryset.select_related("reporter", "duplicate_of")
        filterset = ApiIncidentFilterSet(
            request.query_params, queryset=queryset, request=django_request
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        paginator = IncidentCursor()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        revealed = unmask.request_revealed_ids(django_request, page)
        for incident in page:
            incident.reveal = incident.pk in revealed
        context = {"definitions": _definitions(self.org)}
        return paginator.get_paginated_response(
            IncidentSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        operation_id="incidents_create",
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer, 422: ErrorSerializer, 409: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        """Declare an incident, as the declare form does (same service, same rules); 201 with
        `Location`."""
        data = _input(IncidentCreateSerializer, self, request.data)
        assessment = data.get("assessment")
        try:
            incident = services.incident_create(
                organization=self.org,
                actor=request.user,
                title=data["title"],
                description=data.get("description", ""),
                severity=data.get("severity"),
                override_reason=data.get("override_reason", ""),
                assessment=Answers(**assessment) if assessment is not None else None,
                category=data.get("category"),
                primary_service=data.get("primary_service"),
                affected_services=data.get("affected_services", []),
                owning_team=data.get("owning_team"),
                commander=data.get("commander"),
                kind=data["kind"],
                is_restricted=data["is_restricted"],
                detected_at=data.get("detected_at"),
                custom_fields=data.get("custom_fields") or {},
                source=Incident.Source.API,
            )
        except (DjangoValidationError, DjangoPermissionDenied) as error:
            raise refusal(error) from error
        self.idempotent_object_id = incident.pk
        location = reverse("api:incident_detail", kwargs={"key": incident.key})
        return _present(self, _reload(self, incident), 201, {"Location": location})

    def replay_body(self, object_id):
        return _replayed(self, object_id)


class IncidentDetailView(OrgAPIView):
    capability = Capability.VIEW_INCIDENTS
    write_capability = Capability.UPDATE_INCIDENTS
    hidden = False

    @extend_schema(operation_id="incidents_retrieve", responses={200: IncidentSerializer, **ERRORS})
    def get(self, request, key):
        return _present(self, visible_incident(request, key))

    @extend_schema(
        operation_id="incidents_partial_update",
        request=IncidentUpdateSerializer,
        responses={200: IncidentSerializer, 409: ErrorSerializer, 422: ErrorSerializer, **ERRORS},
    )
    def patch(self, request, key):
        """Change the fields the edit page allows. Text holding personal data you see masked,
        and sensitive custom fields you may not see, cannot be changed (403)."""
        incident = visible_incident(request, key)
        data = dict(_input(IncidentUpdateSerializer, self, request.data))
        version = data.pop("version")
        severity = data.pop("severity", None)
        severity_reason = data.pop("severity_reason", "")
        if not data and severity is None:
            # Nothing to change: still refuse a stale version, as every write does.
            if version != incident.version:
                raise StaleVersion()
            return _present(self, incident)
        self._refuse_masked(incident, data)
        if "custom_fields" in data:
            # Only the keys sent change; null clears one.
            merged = dict(incident.custom_fields or {})
            for field_key, value in data["custom_fields"].items():
                if value is None:
                    merged.pop(field_key, None)
                else:
                    merged[field_key] = value
            data["custom_fields"] = merged
        for name in ("affected_services", "involved_teams"):
            if name in data:
                data[name] = list(data[name])
        try:
            # One transaction: a refused severity change undoes the field changes too.
            with transaction.atomic():
                if data:
                    incident = services.incident_update(
                        incident=incident,
                        actor=request.user,
                        changes=data,
                        expected_version=version,
                    )
                    version = incident.version
                if severity is not None:
                    incident = services.incident_change_severity(
                        incident=incident,
                        actor=request.user,
                        severity=severity,
                        reason=severity_reason,
                        expected_version=version,
                    )
        except (DjangoValidationError, DjangoPermissionDenied) as error:
            raise refusal(error) from error
        return _present(self, _reload(self, incident))

    def _refuse_masked(self, incident: Incident, data: dict) -> None:
        """The browser locks what a reader sees masked (saving the labels would destroy the
        data); the API refuses to change it."""
        if incident.reveal:
            return
        from compliance import masking

        locked = [
            name
            for name in ("title", "description", "impact_summary", "resolution_summary")
            if name in data
            and masking.mask_text(getattr(incident, name) or "") != (getattr(incident, name) or "")
        ]
        definitions = _definitions(self.org)
        for field_key in data.get("custom_fields") or {}:
            definition = definitions.get(field_key)
            stored = (incident.custom_fields or {}).get(field_key)
            sensitive = definition is not None and definition.is_sensitive
            holds_personal = isinstance(stored, str) and masking.mask_text(stored) != stored
            if sensitive or holds_personal:
                locked.append(f"custom_fields.{field_key}")
        if locked:
            raise PermissionDenied(
                "You see these fields masked and may not change them: "
                + ", ".join(locked)
                + ". Someone with access to sensitive data can reveal the incident and change "
                "them."
            )


class IncidentTransitionView(OrgAPIView):
    capability = Capability.VIEW_INCIDENTS
    write_capability = Capability.TRANSITION_INCIDENTS
    hidden = False

    @extend_schema(
        operation_id="incidents_transition",
        request=TransitionSerializer,
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=TRANSITION_NAMES),
        ],
        responses={
            200: IncidentSerializer,
            409: RequirementsMissingSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
    )
    def post(self, request, key, name):
        """Run one lifecycle transition (`start_investigation`, `mitigate`, `resolve`, `close`,
        `reopen`, `dismiss`, `mark_duplicate`). Blocked by missing requirements: 409
        `requirements_missing` listing each; not possible now or bad input: 422."""
        if name not in TRANSITION_NAMES:
            raise NotFound(f"No transition “{name}”. Use one of: {', '.join(TRANSITION_NAMES)}.")
        incident = visible_incident(request, key)
        data = _input(TransitionSerializer, self, request.data)
        primary = None
        primary_key = (data.get("duplicate_of") or "").strip()
        if primary_key:
            primary = (
                selectors.incident_list(
                    organization=self.org, user=request.user, membership=self.membership
                )
                .filter(key__iexact=primary_key)
                .first()
            )
            if primary is None:
                raise Unprocessable({"duplicate_of": [f"No incident {primary_key}."]})
        try:
            incident = services.incident_transition(
                incident=incident,
                name=name,
                actor=request.user,
                note=data.get("note", ""),
                expected_version=data.get("version"),
                duplicate_of=primary,
            )
        except services.RequirementsMissing as error:
            return Response(
                {
                    "code": "requirements_missing",
                    "detail": error.messages[0],
                    "missing": [{"field": m.code, "message": m.label} for m in error.missing],
                },
                status=status.HTTP_409_CONFLICT,
            )
        except (DjangoValidationError, DjangoPermissionDenied) as error:
            raise refusal(error) from error
        self.idempotent_object_id = incident.pk
        return _present(self, _reload(self, incident))

    def replay_body(self, object_id):
        return _replayed(self, object_id)
