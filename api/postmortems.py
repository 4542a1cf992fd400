"""Post-mortems (read) and action items (read; status changes) over the API — the rows, the
visibility and the services of the post-mortem pages (postmortems/views_index.py,
views_document.py, views_actions.py).

- `GET   /postmortems/`                   post-mortems of incidents the reader may see
- `GET   /postmortems/<id or incident key>/`
- `GET   /action-items/`                  `?status=&owner=&team=&overdue=&…` (the page's filters)
- `GET   /action-items/<id>/`
- `PATCH /action-items/<id>/`             `{"status": "done"}` → actions.action_item_set_status

A post-mortem or item of an incident the reader may not see answers 404. Text is masked as the
pages mask it, unless the reader revealed the incident (compliance.unmask)."""

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import OrgScopedMixin
from api.calls import cursor, masked, service_errors
from compliance import unmask
from incidents import selectors
from postmortems import actions, blameless
from postmortems.filters_actions import ActionItemFilterSet
from postmortems.models import ActionItem, PostMortem
from tenancy.roles import Capability

OPEN_ITEMS = Q(action_items__status__in=actions.OPEN)


def _reveal(request, rows, incident_of) -> None:
    """Mark each row's incident revealed or not for this reader (one query)."""
    incidents = [incident_of(row) for row in rows]
    revealed = unmask.request_revealed_ids(request._request, incidents)
    for incident in incidents:
        incident.reveal = incident.pk in revealed


class PostMortemSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    incident = serializers.CharField(source="incident.key")
    title = serializers.SerializerMethodField()
    status = serializers.CharField(help_text=", ".join(PostMortem.Status.values) + ".")
    version = serializers.IntegerField()
    owner = serializers.SerializerMethodField()
    review_due_at = serializers.DateTimeField(allow_null=True)
    review_held_at = serializers.DateTimeField(allow_null=True)
    open_action_items = serializers.IntegerField(source="open_items")
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)

    def get_title(self, pm) -> str:
        return masked(pm.title, pm.incident)

    def get_owner(self, pm) -> str | None:
        return pm.owner.email if pm.owner_id else None


class TimelineRowSerializer(serializers.Serializer):
    at = serializers.CharField(allow_blank=True)
    text = serializers.CharField()
    source = serializers.CharField(allow_blank=True)


class WhySerializer(serializers.Serializer):
    position = serializers.IntegerField()
    why = serializers.CharField()
    because = serializers.CharField()


class CauseSerializer(serializers.Serializer):
    category = serializers.CharField()
    text = serializers.CharField()


class PostMortemSerializer(PostMortemSummarySerializer):
    sections = serializers.SerializerMethodField(
        help_text="Each written section (" + ", ".join(blameless.SECTIONS) + "), masked."
    )
    timeline = serializers.SerializerMethodField()
    whys = serializers.SerializerMethodField()
    causes = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    def get_sections(self, pm) -> dict[str, str]:
        return {field: masked(getattr(pm, field), pm.incident) for field in blameless.SECTIONS}

    @extend_schema_field(TimelineRowSerializer(many=True))
    def get_timeline(self, pm):
        return [
            {
                "at": str(row.get("at") or ""),
                "text": masked(row.get("text", ""), pm.incident),
                "source": str(row.get("source") or ""),
            }
            for row in pm.timeline or []
            if isinstance(row, dict)
        ]

    @extend_schema_field(WhySerializer(many=True))
    def get_whys(self, pm):
        return [
            {
                "position": step.position,
                "why": masked(step.why, pm.incident),
                "because": masked(step.because, pm.incident),
            }
            for step in pm.whys.all()
        ]

    @extend_schema_field(CauseSerializer(many=True))
    def get_causes(self, pm):
        return [
            {"category": cause.category, "text": masked(cause.text, pm.incident)}
            for cause in pm.causes.all()
        ]

    def get_tags(self, pm) -> list[str]:
        return [tag.name for tag in pm.tags.all()]


class _Reads(OrgScopedMixin):
    capability = Capability.VIEW_INCIDENTS
    hidden = False  # as the pages: org_view(VIEW_INCIDENTS) answers 403


def _postmortems(view):
    visible = selectors.incident_list(
        organization=view.org, user=view.request.user, membership=view.membership
    )
    return (
        PostMortem.objects.filter(organization=view.org, incident__in=visible)
        .select_related("incident", "owner")
        .annotate(open_items=Count("action_items", filter=OPEN_ITEMS))
    )


class PostMortemList(_Reads, ListAPIView):
    """Post-mortems of the incidents the reader may see, newest first; `?status=` narrows."""

    serializer_class = PostMortemSummarySerializer
    pagination_class = cursor("-created_at", "-pk")

    def get_queryset(self):
        rows = _postmortems(self)
        status = self.request.query_params.get("status")
        if status is not None:
            if status not in PostMortem.Status.values:
                choices = ", ".join(PostMortem.Status.values)
                raise ValidationError({"status": [f"Choose one of {choices}."]})
            rows = rows.filter(status=status)
        return rows

    def get_serializer(self, *args, **kwargs):
        if args:
            _reveal(self.request, args[0], lambda pm: pm.incident)
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        operation_id="postmortems",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=PostMortem.Status.values)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PostMortemDetail(_Reads, APIView):
    """One post-mortem, by its id or by its incident's key (`ACME-42`)."""

    @extend_schema(operation_id="postmortem", responses=PostMortemSerializer)
    def get(self, request, ref: str):
        rows = _postmortems(self).prefetch_related("whys", "causes", "tags")
        if ref.isdigit():
            pm = rows.filter(pk=int(ref)).first() if len(ref) < 19 else None
        else:
            pm = rows.filter(incident__key__iexact=ref).first()
        if pm is None:
            raise NotFound(f"No post-mortem {ref}.")
        pm.incident.reveal = unmask.request_reveal(request._request, pm.incident)
        return Response(PostMortemSerializer(pm).data)


class ActionItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    postmortem = serializers.IntegerField(source="postmortem_id")
    incident = serializers.CharField(source="postmortem.incident.key")
    title = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=ActionItem.Status.choices)
    is_overdue = serializers.BooleanField(
        help_text="Open or in progress and due before today (organisation's calendar)."
    )
    owner = serializers.SerializerMethodField()
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    due_date = serializers.DateField(allow_null=True)
    priority = serializers.ChoiceField(choices=ActionItem.Priority.choices)
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices)
    ticket_key = serializers.CharField()
    ticket_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_title(self, item) -> str:
        return masked(item.title, item.postmortem.incident)

    def get_description(self, item) -> str:
        return masked(item.description, item.postmortem.incident)

    def get_owner(self, item) -> str | None:
        return item.owner.email if item.owner_id else None


class ActionItemStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ActionItem.Status.choices)


def _items(view):
    return actions.action_item_list(
        organization=view.org, user=view.request.user, membership=view.membership
    )


FILTER_PARAMETERS = [
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        enum=["unfinished", "finished", *ActionItem.Status.values],
        description="`unfinished` = open or in progress; `finished` = done or won't do.",
    ),
    OpenApiParameter("owner", OpenApiTypes.INT, description="User id of a member."),
    OpenApiParameter("team", OpenApiTypes.INT, description="Team id."),
    OpenApiParameter("overdue", OpenApiTypes.BOOL),
    OpenApiParameter("kind", OpenApiTypes.STR, enum=ActionItem.Kind.values),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=ActionItem.Priority.values),
    OpenApiParameter("q", OpenApiTypes.STR, description="Search the title and description."),
    OpenApiParameter("due_after", OpenApiTypes.DATE),
    OpenApiParameter("due_before", OpenApiTypes.DATE),
]


class ActionItemList(_Reads, ListAPIView):
    """Action items of the incidents the reader may see, oldest first (by id, so the cursor is
    stable), with the list page's filters."""

    serializer_class = ActionItemSerializer
    pagination_class = cursor("pk", size=50)

    def get_queryset(self):
        params = self.request.query_params.copy()
        if params.get("overdue") is not None:  # the page's select says true/false
            params["overdue"] = params["overdue"].lower()
        filterset = ActionItemFilterSet(params, queryset=_items(self), request=self.request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return filterset.qs

    def get_serializer(self, *args, **kwargs):
        if args:
            _reveal(self.request, args[0], lambda item: item.postmortem.incident)
        return super().get_serializer(*args, **kwargs)

    @extend_schema(operation_id="action_items", parameters=FILTER_PARAMETERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ActionItemDetail(_Reads, APIView):
    """One action item; `PATCH` changes its status only, through the same service as the
    page's buttons: its owner (any role) or anyone who may update incidents may; `done` records
    the completion time, any other status clears it; the change lands on the incident's
    timeline."""

    def item(self, pk: int) -> ActionItem:
        item = _items(self).filter(pk=pk).first()
        if item is None:
            raise NotFound("No such action item.")
        item.postmortem.incident.reveal = unmask.request_reveal(
            self.request._request, item.postmortem.incident
        )
        return item

    @extend_schema(operation_id="action_item", responses=ActionItemSerializer)
    def get(self, request, pk: int):
        return Response(ActionItemSerializer(self.item(pk)).data)

    @extend_schema(
        operation_id="action_item_update",
        request=ActionItemStatusSerializer,
        responses=ActionItemSerializer,
    )
    def patch(self, request, pk: int):
        item = self.item(pk)
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        unknown = sorted(set(request.data) - {"status"})
        if unknown:
            raise ValidationError({name: ["Only `status` can be changed."] for name in unknown})
        data = ActionItemStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with service_errors():
            actions.action_item_set_status(
                item=item, actor=request.user, status=data.validated_data["status"]
            )
        return Response(ActionItemSerializer(self.item(pk)).data)
