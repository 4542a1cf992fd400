"""The record types retention knows about, registered by the apps that own them.

Each `Retained` says how to find one organisation's rows of that type, how old a row is, how a
legal hold reaches it (through its incident, its service, its date), and how the purge removes
it (delete or anonymise). The retention app (compliance.retention) drives the purge; it never
imports the owning apps' models directly."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class Retained:
    key: str  # a compliance.models.RecordType value
    label: str
    # All of one organisation's rows of this type (called with the organisation's id, inside
    # scopes_disabled), as a queryset the purge can filter further.
    rows: Callable[[int], QuerySet]
    # The field whose age decides retention (a DateTimeField on the row).
    date_field: str
    # How a legal hold on incidents / services reaches a row ("" when it cannot).
    incident_path: str = ""
    service_path: str = ""
    # Remove the given rows (delete or anonymise); returns how many. Called inside the purge's
    # transaction.
    purge: Callable[[QuerySet], int] | None = None
    # The table(s) whose size the retention page reports.
    tables: tuple[str, ...] = ()


REGISTRY: dict[str, Retained] = {}


def register(retained: Retained) -> None:
    REGISTRY[retained.key] = retained
