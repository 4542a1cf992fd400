"""The incident list's filters (django-filter), including one per filterable custom field."""

import django_filters
from django import forms
from django.db.models import Q

from compliance import masking
from incidents.lifecycle import OPEN_STATES, Status
from incidents.models import Incident
from incidents.selectors import counted_in_metrics, incident_search
from taxonomy.models import Category, CustomFieldDefinition, Service, SeverityLevel
from tenancy.filters import OrgFilterSet
from tenancy.models import Membership, Team, User

SORTS = {
    "-reported": ("-reported_at", "-number"),
    "reported": ("reported_at", "number"),
    "severity": ("severity__level", "-reported_at"),
    "-severity": ("-severity__level", "-reported_at"),
    "key": ("number",),
    "-key": ("-number",),
    "status": ("status", "-reported_at"),
    "-updated": ("-updated_at", "-number"),
}
SORT_CHOICES = [
    ("-reported", "Newest first"),
    ("reported", "Oldest first"),
    ("severity", "Most severe first"),
    ("-severity", "Least severe first"),
    ("-updated", "Recently changed"),
    ("-key", "Key, descending"),
    ("key", "Key, ascending"),
    ("status", "Status"),
]


def _org(request):
    return request.org


def _severities(request):
    return SeverityLevel.objects.filter(organization=request.org)


def _categories(request):
    return Category.objects.filter(organization=request.org)


def _services(request):
    return Service.objects.filter(organization=request.org)


def _teams(request):
    return Team.objects.filter(organization=request.org)


def _members(request):
    members = Membership.objects.filter(organization=request.org).values("user_id")
    return User.objects.filter(pk__in=members).order_by("full_name", "email")


class IncidentFilterSet(OrgFilterSet):
    q = django_filters.CharFilter(label="Search", method="filter_text")
    status = django_filters.ChoiceFilter(
        choices=[("open", "Any open"), *Status.choices],
        method="filter_status",
        empty_label="Any status",
    )
    severity = django_filters.ModelChoiceFilter(queryset=_severities, empty_label="Any severity")
    category = django_filters.ModelChoiceFilter(queryset=_categories, empty_label="Any")
    service = django_filters.ModelChoiceFilter(
        queryset=_services, label="Service", method="filter_service", empty_label="Any"
    )
    team = django_filters.ModelChoiceFilter(
        queryset=_teams, label="Team", method="filter_team", empty_label="Any"
    )
    commander = django_filters.ModelChoiceFilter(queryset=_members, empty_label="Anyone")
    is_restricted = django_filters.BooleanFilter(
        label="Restricted",
        widget=forms.Select(
            choices=[("", "Any"), ("true", "Restricted"), ("false", "Not restricted")]
        ),
    )
    kind = django_filters.ChoiceFilter(choices=Incident.Kind.choices, empty_label="Any")
    since = django_filters.DateFilter(
        field_name="reported_at",
        lookup_expr="date__gte",
        label="Reported from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="reported_at",
        lookup_expr="date__lte",
        label="Reported until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    counted = django_filters.BooleanFilter(
        label="Counts in metrics",
        method="filter_counted",
        widget=forms.Select(
            choices=[("", "Any"), ("true", "Counts in metrics"), ("false", "Excluded")]
        ),
    )
    root_cause = django_filters.ChoiceFilter(
        label="Root cause",
        choices=[("none", "Not set"), *Incident.RootCause.choices],
        method="filter_root_cause",
        empty_label="Any",
    )
    resolved_since = django_filters.DateFilter(
        label="Resolved from",
        method="filter_resolved_since",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    resolved_until = django_filters.DateFilter(
        label="Resolved until",
        method="filter_resolved_until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sla = django_filters.ChoiceFilter(
        label="SLA",
        choices=[("breaching", "Due within 15 min"), ("breached", "Breached")],
        method="filter_sla",
        empty_label="Any",
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_sort", empty_label="Newest first", label="Sort"
    )

    MAIN = ("q", "status", "severity", "sla", "service", "team", "commander", "sort")

    class Meta:
        model = Incident
        fields = [
            "q",
            "status",
            "sla",
            "severity",
            "category",
            "service",
            "team",
            "commander",
            "is_restricted",
            "kind",
            "counted",
            "since",
            "until",
            "root_cause",
            "resolved_since",
            "resolved_until",
            "sort",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = kwargs.get("request")
        self.custom_definitions = []
        if request is not None:
            self.custom_definitions = [
                d
                for d in CustomFieldDefinition.objects.filter(
                    organization=request.org, is_active=True
                )
                # Sensitive values are never filterable: a filter would reveal them.
                if d.field_type in ("choice", "boolean", "text", "number") and not d.is_sensitive
            ]
        for definition in self.custom_definitions:
            name = f"cf_{definition.key}"
            if definition.field_type == "choice":
                self.filters[name] = django_filters.ChoiceFilter(
                    label=definition.label,
                    choices=[(c, c) for c in definition.choices],
                    method="filter_custom",
                )
            elif definition.field_type == "boolean":
                self.filters[name] = django_filters.BooleanFilter(
                    label=definition.label,
                    method="filter_custom",
                    widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
                )
            else:
                self.filters[name] = django_filters.CharFilter(
                    label=definition.label, method="filter_custom"
                )
            self.filters[name].parent = self
            self.filters[name].model = Incident
            self.filters[name].field_name = name

    def filter_text(self, queryset, name, value):
        membership = getattr(self.request, "membership", None)
        text = masking.searchable(value, role=membership.role if membership else None)
        if value.strip() and not text:
            return queryset.none()  # only personal data asked for: not searchable for this role
        return incident_search(queryset, text)

    def filter_status(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(status__in=OPEN_STATES if value == "open" else [value])

    # A subquery rather than .distinct(): DISTINCT would forbid ordering by severity level.
    def filter_service(self, queryset, name, value):
        matching = Incident.objects.filter(Q(primary_service=value) | Q(affected_services=value))
        return queryset.filter(pk__in=matching.values("pk"))

    def filter_team(self, queryset, name, value):
        matching = Incident.objects.filter(Q(owning_team=value) | Q(involved_teams=value))
        return queryset.filter(pk__in=matching.values("pk"))

    def filter_counted(self, queryset, name, value):
        """The reporting dashboard's exclusions (dismissed, duplicates, test and game day)."""
        if value is None:
            return queryset
        return queryset.filter(counted_in_metrics() if value else ~counted_in_metrics())

    def filter_root_cause(self, queryset, name, value):
        """A root-cause category, or "none" for incidents whose category is not set."""
        if not value:
            return queryset
        return queryset.filter(root_cause_category="" if value == "none" else value)

    # Resolved (and still resolved or closed, as the reporting pages count resolutions), by
    # the resolution's date in the organisation's time zone (the request's current zone).
    def filter_resolved_since(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(
            status__in=[Status.RESOLVED, Status.CLOSED], resolved_at__date__gte=value
        )

    def filter_resolved_until(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(
            status__in=[Status.RESOLVED, Status.CLOSED], resolved_at__date__lte=value
        )

    def filter_custom(self, queryset, name, value):
        if value in (None, ""):
            return queryset
        key = name.removeprefix("cf_")
        definition = next(d for d in self.custom_definitions if d.key == key)
        if definition.field_type == "text":
            return queryset.filter(**{f"custom_fields__{key}__icontains": value})
        if definition.field_type == "number":
            try:
                number = float(value)
            except ValueError:
                return queryset.none()
            return queryset.filter(**{f"custom_fields__{key}": number})
        return queryset.filter(custom_fields__contains={key: value})

    def filter_sla(self, queryset, name, value):
        """Needs the with_sla() annotations (the list view adds them)."""
        from django.utils import timezone

        if value == "breached":
            return queryset.filter(sla_breached=True)
        if value == "breaching":
            soon = timezone.now() + timezone.timedelta(minutes=15)
            return queryset.filter(sla_due__lte=soon)
        return queryset

    def filter_sort(self, queryset, name, value):
        return queryset.order_by(*SORTS.get(value, SORTS["-reported"]))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("sort"):
            queryset = queryset.order_by(*SORTS["-reported"])
        return queryset
