"""The record types retention knows about, registered by the apps that own them.

Each `Retained` says how to find one organisation's rows of that type, how old a row is, how a
legal hold reaches it (through its incident, its service, its date), and how the purge removes
it (delete or anonymise). The retention app (compliance.retention) drives the purge; it never
imports the owning apps' models directly."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet


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
    # — optional, added by compliance.retention; the defaults keep simple record types simple —
    # What the purge does to a row: "delete" or "anonymise" (the policy form offers these).
    actions: tuple[str, ...] = ("delete",)
    # More paths from a row to a taxonomy Service (e.g. an incident's affected services).
    extra_service_paths: tuple[str, ...] = ()
    # The row's period as (start field, end field) for date-range holds: a hold covers a row
    # whose period overlaps the hold's range. Empty: the row's `date_field` alone.
    period: tuple[str, str] | None = None
    # Narrow the candidates (past retention, not held) to what may really go now, e.g. only
    # closed incidents, or only an unbroken oldest-first run of audit entries. Called with the
    # candidates and the organisation's id.
    eligible: Callable[[QuerySet, int], QuerySet] | None = None
    # How a legal hold reaches a row when paths cannot say it (called with the hold, returns a
    # Q over the rows; None when this hold does not reach the type at all).
    hold_filter: Callable[[object], Q | None] | None = None
    # Storage estimate of the given rows in bytes (default: pg_column_size of their own rows).
    measure: Callable[[QuerySet], int] | None = None


REGISTRY: dict[str, Retained] = {}


def register(retained: Retained) -> None:
    REGISTRY[retained.key] = retained
