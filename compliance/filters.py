import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType

from tenancy.filters import OrgFilterSet
from tenancy.models import AuditEntry, Membership, User

VIGIL_APPS = [
    "tenancy",
    "taxonomy",
    "incidents",
    "integrations",
    "postmortems",
    "compliance",
    "reporting",
]


def _org_actors(request):
    members = Membership.objects.filter(organization=request.org).values("user_id")
    return User.objects.filter(pk__in=members).order_by("full_name", "email")


def _object_types(request):
    return ContentType.objects.filter(app_label__in=VIGIL_APPS).order_by("app_label", "model")


class AuditEntryFilterSet(OrgFilterSet):
    actor = django_filters.ModelChoiceFilter(queryset=_org_actors, label="Actor")
    content_type = django_filters.ModelChoiceFilter(queryset=_object_types, label="Object type")
    action = django_filters.ChoiceFilter(choices=AuditEntry.Action.choices, label="Action")
    since = django_filters.DateFilter(
        field_name="timestamp",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="timestamp",
        lookup_expr="date__lte",
        label="Until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEntry
        fields = ["actor", "content_type", "action", "since", "until"]
