"""The durable-deadline pattern shared by the cross-organisation sweepers: claim due rows with
SELECT … FOR UPDATE SKIP LOCKED in chunks, each chunk its own transaction, and act on each row
inside its own organisation's scope — marked in the same transaction as its effects, so a
restart or a second sweeper never loses or doubles a firing."""

from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django_scopes import scopes_disabled

from tenancy.audit import lock_chains
from tenancy.scoping import org_scope

CHUNK = 100


def claim(queryset: QuerySet, size: int, *, related=(), order=("pk",)) -> list:
    """Up to `size` rows of `queryset`, locked for this transaction (rows another sweeper holds
    are skipped), with the audit-chain locks of their organisations taken in one order."""
    with scopes_disabled():  # the sweeper claims across organisations; it acts in scope
        rows = list(
            queryset.select_for_update(skip_locked=True, of=("self",))
            .select_related(*related)
            .order_by(*order)[:size]
        )
    lock_chains(row.organization_id for row in rows)  # one order: no deadlock between sweepers
    return rows


def run_pass(
    due: Callable[[datetime], QuerySet],
    act: Callable[[object, datetime], None],
    moment: Callable[[], datetime],
    limit: int,
    *,
    related=(),
    chunk: int = CHUNK,
) -> int:
    """Claim the rows `due(at)` selects and `act(row, at)` on each, chunk by chunk, until none
    is left or `limit` rows were handled. Returns how many."""
    done = 0
    while done < limit:
        at = moment()
        with transaction.atomic():
            with scopes_disabled():  # the due rows of every organisation
                queryset = due(at)
            rows = claim(queryset, min(chunk, limit - done), related=related)
            for row in rows:
                with org_scope(row.organization_id):
                    act(row, at)
        done += len(rows)
        if not rows:
            break
    return done
