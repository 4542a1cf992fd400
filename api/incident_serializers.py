"""Incident shapes of the API: what a reader gets (masked as the browser masks it) and what a
writer may send. Writes go through incidents.services, which does the real validation; these
serializers only check shapes and types, and that referenced rows are this organisation's."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance import masking
from incidents.lifecycle import TRANSITIONS, Status
from incidents.models import Incident
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Team, User

MASKABLE_TEXT = ("title", "description", "impact_summary", "resolution_summary")


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


def _ref(obj):
    return None if obj is None else {"id": obj.pk, "name": str(obj.name)}


def _person(user):
    return None if user is None else {"id": user.pk, "name": user.display_name}


class IncidentSerializer(serializers.Serializer):
    """An incident as a reader sees it. Free text (title, description, summaries) has personal
    data masked and sensitive custom fields read "[hidden]" unless the incident is revealed to
    this reader (compliance.unmask) — exactly as on the pages."""

    key = serializers.CharField()
    title = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=Status.choices)
    severity = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    primary_service = serializers.SerializerMethodField()
    affected_services = serializers.SerializerMethodField()
    owning_team = serializers.SerializerMethodField()
    involved_teams = serializers.SerializerMethodField()
    commander = serializers.SerializerMethodField()
    reporter = serializers.SerializerMethodField()
    kind = serializers.ChoiceField(choices=Incident.Kind.choices)
    source = serializers.ChoiceField(choices=Incident.Source.choices)
    is_restricted = serializers.BooleanField()
    version = serializers.IntegerField()
    detected_at = serializers.DateTimeField()
    reported_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    mitigated_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    impact_summary = serializers.SerializerMethodField()
    resolution_summary = serializers.SerializerMethodField()
    root_cause_category = serializers.CharField(allow_blank=True)
    custom_fields = serializers.SerializerMethodField()
    duplicate_of = serializers.SerializerMethodField()
    is_masked = serializers.SerializerMethodField()

    def _reveal(self, incident) -> bool:
        return getattr(incident, "reveal", False) is True

    def _text(self, incident, name) -> str:
        return masking.mask_text(getattr(incident, name), reveal=self._reveal(incident))

    @extend_schema_field(OpenApiTypes.STR)
    def get_title(self, incident):
        return self._text(incident, "title")

    @extend_schema_field(OpenApiTypes.STR)
    def get_description(self, incident):
        return self._text(incident, "description")

    @extend_schema_field(OpenApiTypes.STR)
    def get_impact_summary(self, incident):
        return self._text(incident, "impact_summary")

    @extend_schema_field(OpenApiTypes.STR)
    def get_resolution_summary(self, incident):
        return self._text(incident, "resolution_summary")

    @extend_schema_field(RefSerializer)
    def get_severity(self, incident):
        return _ref(incident.severity)

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_category(self, incident):
        return _ref(incident.category)

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_primary_service(self, incident):
        return _ref(incident.primary_service)

    @extend_schema_field(RefSerializer(many=True))
    def get_affected_services(self, incident):
        return [_ref(s) for s in incident.affected_services.all()]

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_owning_team(self, incident):
        return _ref(incident.owning_team)

    @extend_schema_field(RefSerializer(many=True))
    def get_involved_teams(self, incident):
        return [_ref(t) for t in incident.involved_teams.all()]

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_commander(self, incident):
        return _person(incident.commander)

    @extend_schema_field(PersonSerializer(allow_null=True))
    def get_reporter(self, incident):
        return _person(incident.reporter)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_custom_fields(self, incident):
        definitions = self.context.get("definitions", {})
        reveal = self._reveal(incident)
        values = {}
        for key, value in (incident.custom_fields or {}).items():
            definition = definitions.get(key)
            sensitive = definition is None or definition.is_sensitive
            values[key] = masking.mask_value(value, sensitive=sensitive, reveal=reveal)
        return values

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_duplicate_of(self, incident) -> str | None:
        return incident.duplicate_of.key if incident.duplicate_of_id else None

    def get_is_masked(self, incident) -> bool:
        """Whether this reader sees the incident masked (reveal it in the browser to unmask)."""
        return not self._reveal(incident)


def _org_queryset(model, organization, **filters):
    if organization is None:
        return model.objects.none()
    return model.objects.filter(organization=organization, **filters)


class MemberField(serializers.PrimaryKeyRelatedField):
    """A user id; only members of the organisation are accepted."""

    def get_queryset(self):
        organization = self.context.get("organization")
        if organization is None:
            return User.objects.none()
        return User.objects.filter(memberships__organization=organization, is_active=True)


class OrgRefField(serializers.PrimaryKeyRelatedField):
    """An id of one of this organisation's rows of `model`."""

    def __init__(self, model, active_only=False, **kwargs):
        self.model = model
        self.active_only = active_only
        kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        filters = {"is_active": True} if self.active_only else {}
        return _org_queryset(self.model, self.context.get("organization"), **filters)


class AssessmentSerializer(serializers.Serializer):
    """The severity assessment of the declare form: objective answers that propose a
    severity. Choosing another severity than proposed needs `override_reason`."""

    customer_visible = serializers.BooleanField(default=False)
    users_affected_pct = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, default=0
    )
    downtime_minutes = serializers.IntegerField(min_value=0, max_value=525_600, default=0)
    revenue_at_risk = serializers.BooleanField(default=False)
    data_at_risk = serializers.BooleanField(default=False)
    regulatory_exposure = serializers.BooleanField(default=False)


class IncidentCreateSerializer(serializers.Serializer):
    """Declare an incident (the declare form's fields). References are ids."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    severity = OrgRefField(SeverityLevel, required=False, allow_null=True)
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    assessment = AssessmentSerializer(required=False)
    category = OrgRefField(Category, active_only=True, required=False, allow_null=True)
    primary_service = OrgRefField(Service, active_only=True, required=False, allow_null=True)
    affected_services = serializers.ListField(
        child=OrgRefField(Service, active_only=True), required=False, max_length=100
    )
    owning_team = OrgRefField(Team, required=False, allow_null=True)
    commander = MemberField(required=False, allow_null=True, queryset=User.objects.none())
    kind = serializers.ChoiceField(choices=Incident.Kind.choices, default=Incident.Kind.REAL)
    is_restricted = serializers.BooleanField(default=False)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    custom_fields = serializers.DictField(required=False)


class IncidentUpdateSerializer(serializers.Serializer):
    """Change facts of an incident (the edit page's fields), all optional; `version` is the one
    you read — a stale version is refused with 409. Severity changes need `severity_reason`."""

    version = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    severity = OrgRefField(SeverityLevel, required=False)
    severity_reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    category = OrgRefField(Category, required=False, allow_null=True)
    primary_service = OrgRefField(Service, required=False, allow_null=True)
    affected_services = serializers.ListField(
        child=OrgRefField(Service), required=False, max_length=100
    )
    owning_team = OrgRefField(Team, required=False, allow_null=True)
    involved_teams = serializers.ListField(child=OrgRefField(Team), required=False, max_length=100)
    commander = MemberField(required=False, allow_null=True, queryset=User.objects.none())
    kind = serializers.ChoiceField(choices=Incident.Kind.choices, required=False)
    impact_summary = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    resolution_summary = serializers.CharField(required=False, allow_blank=True, max_length=50_000)
    root_cause_category = serializers.ChoiceField(
        choices=[("", "—"), *Incident.RootCause.choices], required=False, allow_blank=True
    )
    custom_fields = serializers.DictField(
        required=False,
        help_text="Only the keys you send change; send null to clear a value.",
    )


class TransitionSerializer(serializers.Serializer):
    """What a transition may need: a `note` (required to dismiss or reopen), `duplicate_of` (the
    primary's key, for mark_duplicate) and optionally the `version` you read."""

    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    duplicate_of = serializers.CharField(required=False, allow_blank=True, max_length=24)
    version = serializers.IntegerField(required=False, min_value=1)


class MissingSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()


class RequirementsMissingSerializer(serializers.Serializer):
    """409: `requirements_missing` (with `missing`), or `stale_version` / an idempotency
    conflict (without)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    missing = MissingSerializer(many=True, required=False)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)


TRANSITION_NAMES = list(TRANSITIONS)
