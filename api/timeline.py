"""An incident's timeline, comments and status updates over the API: the same rows, services,
visibility and masking as the incident page (incidents/views.py, incidents/coordination_views.py).

- `GET  /incidents/<key>/timeline/`        every event, newest first (`?kind=` narrows)
- `GET  /incidents/<key>/comments/`        the comment events only
- `POST /incidents/<key>/comments/`        `{"text": …}` → services.incident_comment
- `GET  /incidents/<key>/status-updates/`  newest first, with cadence adherence
- `POST /incidents/<key>/status-updates/`  → coordination.status_update_post (template, cadence)
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, get_object_or_404
from rest_framework.response import Response

from api.base import OrgScopedMixin
from api.calls import cursor, masked, service_errors
from api.lookups import visible_incident
from incidents import coordination, services
from incidents.models import StatusUpdate, StatusUpdateTemplate, TimelineEvent
from tenancy.roles import Capability

TEXT_LIMIT = 10_000  # services.incident_comment's limit


def _person(user) -> str | None:
    return user.email if user is not None else None


class TimelineEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=TimelineEvent.Kind.choices)
    kind_display = serializers.CharField(source="get_kind_display")
    actor = serializers.SerializerMethodField(help_text="E-mail of who did it; null for Vigil.")
    message = serializers.SerializerMethodField(help_text="Masked as the incident page masks it.")
    created_at = serializers.DateTimeField()
    is_pinned = serializers.BooleanField()

    def get_actor(self, event) -> str | None:
        return _person(event.actor)

    def get_message(self, event) -> str:
        return masked(event.message, self.context["incident"])


class CommentCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=TEXT_LIMIT, trim_whitespace=True)


class _IncidentChild(OrgScopedMixin, ListAPIView):
    """A list under one visible incident (404 when the reader may not see it)."""

    capability = Capability.VIEW_INCIDENTS
    hidden = False  # like the browser: a role without the capability gets 403

    def incident(self):
        if not hasattr(self, "_incident"):
            self._incident = visible_incident(self.request, self.kwargs["key"])
        return self._incident

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "incident": self.incident()}


KIND_PARAMETER = OpenApiParameter(
    "kind",
    OpenApiTypes.STR,
    description="Only events of this kind.",
    enum=TimelineEvent.Kind.values,
)


class TimelineView(_IncidentChild):
    """The incident's timeline, newest first (as on the incident page), a cursor page at a
    time. Messages are masked for readers who have not revealed the incident."""

    serializer_class = TimelineEventSerializer
    pagination_class = cursor("-created_at", "-pk")

    def get_queryset(self):
        events = TimelineEvent.objects.filter(incident=self.incident()).select_related("actor")
        kind = self.request.query_params.get("kind")
        if kind is not None:
            if kind not in TimelineEvent.Kind.values:
                raise ValidationError(
                    {"kind": [f"Choose one of {', '.join(TimelineEvent.Kind.values)}."]}
                )
            events = events.filter(kind=kind)
        return events

    @extend_schema(operation_id="incident_timeline", parameters=[KIND_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CommentsView(_IncidentChild):
    """Comments are timeline events of kind `comment`; posting one needs `comment_incidents`
    (responders, managers, admins) and a write token."""

    serializer_class = TimelineEventSerializer
    pagination_class = cursor("-created_at", "-pk")
    write_capability = Capability.COMMENT_INCIDENTS

    def get_queryset(self):
        return TimelineEvent.objects.filter(
            incident=self.incident(), kind=TimelineEvent.Kind.COMMENT
        ).select_related("actor")

    @extend_schema(operation_id="incident_comments")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="incident_comment_create",
        request=CommentCreateSerializer,
        responses={201: TimelineEventSerializer},
    )
    def post(self, request, *args, **kwargs):
        incident = self.incident()
        data = CommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            event = services.incident_comment(
                incident=incident, actor=request.user, text=data.validated_data["text"]
            )
        self.idempotent_object_id = event.pk
        body = TimelineEventSerializer(event, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def replay_body(self, object_id):
        """An `Idempotency-Key` replay: the comment as the reader sees it now."""
        event = get_object_or_404(self.get_queryset(), pk=object_id)
        return TimelineEventSerializer(event, context=self.get_serializer_context()).data


class StatusUpdateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.SerializerMethodField()
    current_status = serializers.SerializerMethodField()
    impact = serializers.SerializerMethodField()
    workaround = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    posted_at = serializers.DateTimeField()
    next_update_at = serializers.DateTimeField(allow_null=True)
    severity = serializers.CharField(source="severity_name")
    due_at = serializers.DateTimeField(
        allow_null=True, help_text="The deadline this update answered (null: no cadence)."
    )
    late_seconds = serializers.IntegerField(
        allow_null=True, help_text="How late it came (0 on time, null when nothing was due)."
    )
    template = serializers.IntegerField(source="template_id", allow_null=True)

    def get_author(self, update) -> str | None:
        return _person(update.author)

    def _text(self, update, field) -> str:
        return masked(getattr(update, field), self.context["incident"])

    def get_current_status(self, update) -> str:
        return self._text(update, "current_status")

    def get_impact(self, update) -> str:
        return self._text(update, "impact")

    def get_workaround(self, update) -> str:
        return self._text(update, "workaround")

    def get_body(self, update) -> str:
        return self._text(update, "body")


class StatusUpdateCreateSerializer(serializers.Serializer):
    """As the browser's form: `current_status` is required unless a template fills it; fields
    left out are filled from the template (its placeholders from the incident)."""

    current_status = serializers.CharField(
        required=False, allow_blank=True, max_length=coordination.TEXT_LIMIT
    )
    impact = serializers.CharField(
        required=False, allow_blank=True, max_length=coordination.TEXT_LIMIT
    )
    workaround = serializers.CharField(
        required=False, allow_blank=True, max_length=coordination.TEXT_LIMIT
    )
    body = serializers.CharField(
        required=False, allow_blank=True, max_length=coordination.TEXT_LIMIT
    )
    next_update_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="No later than the severity's cadence allows; default: one cadence from now.",
    )
    template = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class StatusUpdatesView(_IncidentChild):
    """Status updates, newest first; posting one needs `update_incidents` (as in the browser)
    and goes through the same service: broadcast to the incident's channels, cadence checked,
    next deadline set."""

    serializer_class = StatusUpdateSerializer
    pagination_class = cursor("-posted_at", "-pk")
    write_capability = Capability.UPDATE_INCIDENTS

    def get_queryset(self):
        return StatusUpdate.objects.filter(incident=self.incident()).select_related("author")

    @extend_schema(operation_id="incident_status_updates")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="incident_status_update_create",
        request=StatusUpdateCreateSerializer,
        responses={201: StatusUpdateSerializer},
    )
    def post(self, request, *args, **kwargs):
        incident = self.incident()
        form = StatusUpdateCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        template = None
        if data.get("template") is not None:
            template = StatusUpdateTemplate.objects.filter(
                organization=self.org, is_active=True, pk=data["template"]
            ).first()
            if template is None:
                raise ValidationError(
                    {"template": ["Choose one of this organisation's templates."]}
                )
            proposal = data.get("next_update_at")
            cadence = coordination.cadence_minutes(incident)
            if proposal is None and cadence:  # what the filled text promises, as the form does
                proposal = timezone.now() + timezone.timedelta(minutes=cadence)
                proposal = proposal.replace(second=0, microsecond=0)
            with service_errors():
                filled = coordination.template_render(template, incident, next_update_at=proposal)
            for field, value in filled.items():
                data.setdefault(field, value)
            data.setdefault("next_update_at", proposal)
        with service_errors():
            update = coordination.status_update_post(
                incident=incident,
                actor=request.user,
                current_status=data.get("current_status", ""),
                impact=data.get("impact", ""),
                workaround=data.get("workaround", ""),
                body=data.get("body", ""),
                next_update_at=data.get("next_update_at"),
                template=template,
            )
        self.idempotent_object_id = update.pk
        body = StatusUpdateSerializer(update, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def replay_body(self, object_id):
        """An `Idempotency-Key` replay: the status update as the reader sees it now."""
        update = get_object_or_404(self.get_queryset(), pk=object_id)
        return StatusUpdateSerializer(update, context=self.get_serializer_context()).data
