"""The org-wide action-item list's filters (django-filter)."""

import django_filters
from django import forms
from django.db.models import Q

from postmortems.actions import FINISHED, OPEN
from postmortems.forms_actions import member_choices
from postmortems.models import ActionItem
from taxonomy.models import SeverityLevel
from tenancy.filters import OrgFilterSet
from tenancy.models import Team

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _members(request):
    return member_choices(request.org)


def _teams(request):
    return Team.objects.filter(organization=request.org)


def _severities(request):
    return SeverityLevel.objects.filter(organization=request.org)


class ActionItemFilterSet(OrgFilterSet):
    MAIN = ("q", "status", "owner", "team", "overdue")

    q = django_filters.CharFilter(label="Search", method="filter_text")
    status = django_filters.ChoiceFilter(
        choices=[
            ("unfinished", "Open or in progress"),
            ("finished", "Done or won't do"),
            *ActionItem.Status.choices,
        ],  # fmt: skip
        method="filter_status",
        empty_label="Any status",
    )
    owner = django_filters.ModelChoiceFilter(
        queryset=_members, empty_label="Anyone", null_label="No owner"
    )
    team = django_filters.ModelChoiceFilter(
        queryset=_teams, empty_label="Any team", null_label="No team"
    )
    overdue = django_filters.BooleanFilter(
        label="Overdue",
        method="filter_overdue",
        widget=forms.Select(choices=[("", "Any"), ("true", "Overdue"), ("false", "Not overdue")]),
    )
    kind = django_filters.ChoiceFilter(choices=ActionItem.Kind.choices, empty_label="Any kind")
    priority = django_filters.ChoiceFilter(
        choices=ActionItem.Priority.choices, empty_label="Any priority"
    )
    due_after = django_filters.DateFilter(
        field_name="due_date", lookup_expr="gte", label="Due from", widget=DATE
    )
    due_before = django_filters.DateFilter(
        field_name="due_date", lookup_expr="lte", label="Due until", widget=DATE
    )
    has_due_date = django_filters.BooleanFilter(
        field_name="due_date",
        lookup_expr="isnull",
        exclude=True,
        label="Due date",
        widget=forms.Select(choices=[("", "Any"), ("true", "Has one"), ("false", "None set")]),
    )
    severity = django_filters.ModelChoiceFilter(
        queryset=_severities,
        field_name="postmortem__incident__severity",
        label="Incident severity",
        empty_label="Any severity",
    )

    class Meta:
        model = ActionItem
        fields = ["status", "owner", "team", "kind", "priority"]

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(ticket_key__iexact=value)
            | Q(postmortem__incident__key__iexact=value)
        )

    def filter_status(self, queryset, name, value):
        if value == "unfinished":
            return queryset.filter(status__in=OPEN)
        if value == "finished":
            return queryset.filter(status__in=FINISHED)
        return queryset.filter(status=value)

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(is_overdue=value)
