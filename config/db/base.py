"""PostgreSQL with row-level security keyed on the tenant scope (docs/tenancy.md, "The second
wall").

Every table with an `organization_id` column has a policy that shows and accepts only the rows
of the organisation named by the transaction-local setting `vigil.org_id`, or every row when the
transaction-local `vigil.all_orgs` is `on`. This backend sets both from django-scopes' current
scope before a statement runs, so the database enforces what the ORM's scoped managers do:

- inside `org_scope(org)` / `scope(organization=…)`: `vigil.org_id` = that id;
- inside `scopes_disabled()` (the admin, resolving a hook's source, sweeps over every
  organisation): `vigil.all_orgs` = `on`;
- with no scope at all: neither, so tenant tables look empty and refuse inserts.

The settings are always `set_config(…, true)` — transaction-local, like `SET LOCAL` — never
session-level, so a pooled or persistent connection cannot carry one tenant's setting into the
next transaction. In autocommit mode the `set_config` call is sent in the same simple-protocol
message as the statement (PostgreSQL runs such a message as one transaction), so it costs no
round trip. Inside a transaction it is sent once, with the first statement, and again only when
the scope changes or a rollback may have undone it.

The application must connect as a role that neither owns the tables nor has BYPASSRLS (owners
and superusers skip the policies); migrations run as the owner (docs/operations.md).
"""

import contextlib
from contextvars import ContextVar

from django.db import transaction
from django.db.backends.postgresql import base
from django_scopes.state import get_scope
from psycopg import ServerCursor

NOTHING = ("", "")
ALL = ("", "on")

# What a statement with no scope at all gets. NOTHING everywhere Vigil runs; the test suite
# sets ALL for a test's own set-up code (tests/conftest.py), never for the requests, commands
# and tasks it runs.
UNSCOPED: ContextVar[tuple[str, str]] = ContextVar("vigil_rls_unscoped", default=NOTHING)


@contextlib.contextmanager
def unscoped(value: tuple[str, str]):
    """What statements with no scope get inside the block (tests only)."""
    token = UNSCOPED.set(value)
    try:
        yield
    finally:
        UNSCOPED.reset(token)


def wanted() -> tuple[str, str]:
    """(vigil.org_id, vigil.all_orgs) for the current django-scopes state."""
    state = get_scope()
    if not state:
        return UNSCOPED.get()
    if not state.get("_enabled", True):
        return ALL
    organization = state.get("organization")
    org_id = getattr(organization, "pk", organization)
    if isinstance(org_id, int) and not isinstance(org_id, bool):
        return (str(org_id), "")
    return NOTHING


def set_sql(value: tuple[str, str]) -> str:
    org_id, all_orgs = value
    # Only digits or "on"/"" ever reach here: safe as literals, and literals keep the
    # statement's own parameters (and its %% escapes) untouched.
    assert org_id.isdigit() or not org_id, org_id  # noqa: S101
    assert all_orgs in ("", "on"), all_orgs  # noqa: S101
    return (
        f"SELECT set_config('vigil.org_id', '{org_id}', true), "
        f"set_config('vigil.all_orgs', '{all_orgs}', true)"
    )


CONTROL = ("SET TRANSACTION", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "COMMIT", "BEGIN")


def _is_transaction_control(sql) -> bool:
    """Statements that must go alone: SET TRANSACTION must come before any other statement of
    its transaction, and ROLLBACK TO SAVEPOINT runs in an aborted one, where nothing else may."""
    return isinstance(sql, str) and sql.lstrip()[:17].upper().startswith(CONTROL)


# Called with the SQL of every statement that runs with no scope at all, when set (the test
# suite sets it: such a statement sees no tenant row, which is almost always a silent bug).
on_unscoped = None


def tenant_wall(execute, sql, params, many, context):
    connection = context["connection"]
    value = wanted()
    if value == NOTHING and on_unscoped is not None:
        on_unscoped(sql)
    in_transaction = not connection.get_autocommit()
    if in_transaction and (connection.rls_applied == value or _is_transaction_control(sql)):
        return execute(sql, params, many, context)
    if not in_transaction and value == NOTHING:
        return execute(sql, params, many, context)  # a lone statement: nothing to set
    if isinstance(sql, str) and not many and not isinstance(context["cursor"].cursor, ServerCursor):
        # One message, one round trip: the setting and the statement.
        if in_transaction:
            connection.rls_applied = value
        result = execute(f"{set_sql(value)}; {sql}", params, many, context)
        context["cursor"].cursor.nextset()  # on to the statement's own result
        return result
    # executemany, server-side cursors, composed SQL: set it first, in the same transaction.
    if in_transaction:
        connection.connection.execute(set_sql(value))
        connection.rls_applied = value
        return execute(sql, params, many, context)
    with transaction.atomic(using=connection.alias):
        connection.connection.execute(set_sql(value))
        connection.rls_applied = value
        return execute(sql, params, many, context)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rls_applied = None  # what this transaction has set, if anything
        self.execute_wrappers.append(tenant_wall)

    # Whenever a transaction ends, or a rollback may have undone a set_config, forget it.
    def _commit(self):
        self.rls_applied = None
        return super()._commit()

    def _rollback(self):
        self.rls_applied = None
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        self.rls_applied = None
        return super()._savepoint_rollback(sid)

    def _set_autocommit(self, autocommit):
        self.rls_applied = None
        return super()._set_autocommit(autocommit)

    def _close(self):
        self.rls_applied = None
        return super()._close()
