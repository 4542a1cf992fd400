"""Closes the holes django-scopes leaves open (docs/tenancy.md).

With no organisation in scope, django-scopes' DisabledQuerySet refuses to read — except for
`exists()`, `contains()`, `in_bulk()`, `explain()` and `bulk_update()`, which run unscoped
across every tenant. They are made to raise like every other read.
"""

import contextlib

from django_scopes import scope
from django_scopes.manager import DisabledQuerySet

_UNGUARDED = (
    "exists",
    "aexists",
    "contains",
    "acontains",
    "in_bulk",
    "ain_bulk",
    "explain",
    "aexplain",
    "bulk_update",
    "abulk_update",
)


def close_unscoped_holes() -> None:
    for name in _UNGUARDED:
        if hasattr(DisabledQuerySet, name):
            setattr(DisabledQuerySet, name, DisabledQuerySet.error)


@contextlib.contextmanager
def org_scope(organization):
    """Enter one organisation's scope. Refuses None: `scope(organization=None)` would filter
    nothing and show every tenant's rows."""
    org_id = getattr(organization, "pk", organization)
    if not isinstance(org_id, int) or isinstance(org_id, bool):
        raise TypeError(f"org_scope needs an organisation or its id, got {organization!r}")
    with scope(organization=organization):
        yield
