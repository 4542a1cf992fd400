"""The base FilterSet for organisation data (django-filter meets django-scopes)."""

import django_filters
from django.db.models import QuerySet
from django_scopes import scopes_disabled


class OrgFilterSet(django_filters.FilterSet):
    """Generated filters resolve their model fields at import, when no organisation is in
    scope; that only builds a query. Any import-time queryset would not be tenant-scoped, so
    choice filters must be declared with a callable `queryset=` that runs per request."""

    @classmethod
    def get_filters(cls):
        with scopes_disabled():  # resolve_field builds a Query; no rows are read
            filters = super().get_filters()
        for name, declared in filters.items():
            queryset = getattr(declared, "queryset", None)
            if isinstance(queryset, QuerySet) and name not in cls.declared_filters:
                raise TypeError(f"{cls.__name__}.{name}: declare it with a callable queryset")
        return filters
