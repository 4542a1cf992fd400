"""PostgreSQL row-level security on every tenant-owned table (docs/tenancy.md, "The second
wall"; the backend that sets the keys is config/db/base.py).

`apply()` runs after every `migrate` (post_migrate) as the owner, so a table added by a later
migration is covered the moment it exists. It is idempotent: it (re)creates one policy per table
with an `organization_id` column and grants the application's role what it needs — rows, not
the tables: no TRUNCATE, no ownership, so the policies bind it.
"""

import contextlib

from django.conf import settings
from django.db import connection

POLICY = "vigil_tenant"

# Rows of the organisation in `vigil.org_id`, or every row while `vigil.all_orgs` is on (code
# that runs with django-scopes disabled). Unset settings read as '' (missing_ok), so a
# transaction that set nothing sees, inserts, updates and deletes no rows. Rows without an
# organisation (audit entries about a user, not a tenant) are visible to every transaction.
USING = (
    "current_setting('vigil.all_orgs', true) = 'on' "
    "OR organization_id = NULLIF(current_setting('vigil.org_id', true), '')::bigint"
)
# New and changed rows must pass the same test: no scope, no writes.
CHECK = USING
NULL_ROWS = "organization_id IS NULL OR "


def tenant_tables(cursor) -> list[tuple[str, bool]]:
    """(table, organization_id is nullable) for every table in the schema with the column."""
    cursor.execute(
        """
        SELECT c.table_name, c.is_nullable = 'YES'
          FROM information_schema.columns c
          JOIN information_schema.tables t
            ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND c.column_name = 'organization_id'
           AND t.table_type = 'BASE TABLE'
         ORDER BY c.table_name
        """
    )
    return cursor.fetchall()


def app_role() -> str | None:
    role = settings.DATABASE_APP_USER or None
    owner = settings.DATABASE_OWNER.get("USER") or None
    return role if role and role != owner else None


def apply(using: str = "default") -> list[str]:
    from django.db import connections

    tables = []
    with connections[using].cursor() as cursor:
        for table, nullable in tenant_tables(cursor):
            null_rows = NULL_ROWS if nullable else ""
            cursor.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            cursor.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
            cursor.execute(
                f'CREATE POLICY {POLICY} ON "{table}" '
                f"USING ({null_rows}{USING}) WITH CHECK ({null_rows}{CHECK})"
            )
            tables.append(table)
        role = app_role()
        if role and _role_exists(cursor, role):
            grant_app_role(cursor, role)
    return tables


def _role_exists(cursor, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def grant_app_role(cursor, role: str) -> None:
    quoted = connection.ops.quote_name(role)
    cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    cursor.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
    )
    cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")


def after_migrate(sender, using="default", **kwargs) -> None:
    """post_migrate handler; connected once (for the tenancy app), it covers every app's tables.
    `flush` sends it too: run by the application's role (tests), there is nothing to redo and
    no right to."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR EXISTS (SELECT 1 FROM pg_tables WHERE tableowner = current_user "
            "AND schemaname = current_schema()) FROM pg_roles WHERE rolname = current_user"
        )
        (owner,) = cursor.fetchone()
    if owner:
        apply(using)


@contextlib.contextmanager
def as_owner(using: str = "default"):
    """Run the block on a connection of the tables' owner (settings.DATABASE_OWNER): migrations
    and the retention purge, which removes audit rows. Only between transactions: a connection
    in the middle of one cannot be swapped, so inside `transaction.atomic()` (a test's
    transaction, a caller's) the block runs on the current connection and role."""
    from django.db import connections

    connection_ = connections[using]
    saved = connection_.settings_dict
    options = {k: v for k, v in (saved.get("OPTIONS") or {}).items() if k != "options"}
    as_owner_ = {**saved, **settings.DATABASE_OWNER, "OPTIONS": options}
    if connection_.in_atomic_block or as_owner_ == saved:
        yield
        return
    connection_.close()
    # A copy for this thread's connection only: the dict is shared by every thread's. No
    # start-up options either: the test suite switches role with one (tests/conftest.py).
    connection_.settings_dict = as_owner_
    try:
        yield
    finally:
        connection_.close()
        connection_.settings_dict = saved
