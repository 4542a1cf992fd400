"""PostgreSQL row-level security, the second wall behind django-scopes (config/db/base.py,
tenancy/rls.py, docs/tenancy.md). The whole suite runs as the application's role; these tests
show what the policies do on their own, with the Python scoping bypassed on purpose."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django_scopes import scopes_disabled

from config.db.base import NOTHING, unscoped
from incidents.models import Incident
from tenancy.rls import POLICY, tenant_tables
from tenancy.scoping import org_scope
from tests.incidents.factories import declare

pytestmark = pytest.mark.unscoped_sql


def count(table: str) -> int:
    with connection.cursor() as cursor:  # outside a scope: what Vigil's code would see
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 — a constant table name
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def _as_vigil_runs(_test_code_writes_across_organisations):
    """These tests' own statements, too, get no rows without a scope."""
    with unscoped(NOTHING):
        yield


@pytest.fixture
def two_tenants(acme, globex, make_member):
    """Three acme incidents and two globex ones."""
    rita = make_member(acme, "responder").user
    gus = make_member(globex, "responder").user
    with scopes_disabled():
        acme_keys = [declare(acme, rita).key for _ in range(3)]
        globex_keys = [declare(globex, gus).key for _ in range(2)]
    return acme_keys, globex_keys


@pytest.mark.django_db
def test_the_application_role_is_bound_by_the_policies():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        superuser, bypass = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tableowner = current_user"
        )
        (owned,) = cursor.fetchone()
    assert (superuser, bypass, owned) == (False, False, 0)


@pytest.mark.django_db
def test_every_table_with_an_organisation_has_row_level_security_and_the_policy():
    with connection.cursor() as cursor:
        tables = [table for table, _ in tenant_tables(cursor)]
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
              JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = %s
             WHERE c.relrowsecurity AND c.relnamespace = current_schema()::regnamespace
            """,
            [POLICY],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert len(tables) > 60  # every tenant-owned model's table, and the roll-ups
    assert "incidents_incident" in tables
    assert "tenancy_auditentry" in tables
    assert set(tables) - protected == set()


@pytest.mark.django_db
def test_without_a_scope_tenant_tables_show_nothing_and_change_nothing(two_tenants, acme):
    assert count("incidents_incident") == 0
    assert count("tenancy_membership") == 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_incident SET title = 'forged'")
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM taxonomy_category")
        assert cursor.rowcount == 0
    with scopes_disabled():
        assert count("incidents_incident") == 5
        assert not Incident.objects.filter(title="forged").exists()


@pytest.mark.django_db
def test_a_scope_shows_only_its_organisation_and_refuses_the_others_rows(two_tenants, acme, globex):
    acme_keys, globex_keys = two_tenants
    with org_scope(acme), connection.cursor() as cursor:
        cursor.execute("SELECT key FROM incidents_incident ORDER BY key")
        assert [row[0] for row in cursor.fetchall()] == sorted(acme_keys)
        assert sorted(Incident._base_manager.values_list("key", flat=True)) == sorted(acme_keys)
        cursor.execute(
            "UPDATE incidents_incident SET title = 'x' WHERE organization_id = %s", [globex.pk]
        )
        assert cursor.rowcount == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            cursor.execute(
                "INSERT INTO taxonomy_category (organization_id, name, description, is_active) "
                "VALUES (%s, 'Forged', '', true)",
                [globex.pk],
            )
    with org_scope(globex):
        assert sorted(Incident._base_manager.values_list("key", flat=True)) == sorted(globex_keys)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.tenancy.rls_urls")
def test_an_unscoped_query_inside_a_request_for_acme_returns_no_globex_rows(
    two_tenants, acme, make_member, login
):
    acme_keys, globex_keys = two_tenants
    client = login(make_member(acme, "viewer").user)
    seen = client.get("/o/acme/__unscoped_probe/").json()
    assert seen["with_scopes_disabled"] == sorted(acme_keys)  # Incident.objects, unscoped
    assert seen["base_manager"] == sorted(acme_keys)
    assert seen["raw_sql"] == sorted(acme_keys)
    assert seen["setting"] == str(acme.pk)
    response = client.get("/o/acme/__unscoped_probe/")
    assert not [key for key in globex_keys if key in response.content.decode()]


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF="tests.tenancy.rls_urls")
def test_the_setting_never_outlives_its_request_on_a_persistent_connection(
    two_tenants, acme, globex, make_member, login, client
):
    """Autocommit, as in production: each request's statements carry the setting, and the
    same connection afterwards (no scope) sees nothing — for 40 alternating requests."""
    acme_keys, globex_keys = two_tenants
    user = make_member(acme, "viewer").user
    with scopes_disabled():
        from tenancy.models import Membership

        Membership.objects.create(organization=globex, user=user, role="viewer")
    login(user)
    before = connection.connection
    for i in range(40):
        org, keys = (acme, acme_keys) if i % 2 == 0 else (globex, globex_keys)
        seen = client.get(f"/o/{org.slug}/__unscoped_probe/").json()
        assert seen["raw_sql"] == sorted(keys), i
        assert seen["with_scopes_disabled"] == sorted(keys), i
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('vigil.org_id', true), count(*) FROM incidents_incident"
            )
            assert cursor.fetchone() == ("", 0), i
    assert connection.connection is before  # one connection throughout


@pytest.mark.django_db(transaction=True)
def test_autocommit_statements_and_transactions_carry_their_own_scope(two_tenants, acme, globex):
    acme_keys, globex_keys = two_tenants
    with org_scope(acme):
        assert Incident.objects.count() == 3  # autocommit: setting and statement in one message
    assert count("incidents_incident") == 0
    with transaction.atomic():
        with org_scope(globex):
            assert count("incidents_incident") == 2
        assert count("incidents_incident") == 0  # the scope ended inside the transaction
        with org_scope(acme):
            assert count("incidents_incident") == 3
        try:
            with transaction.atomic(), org_scope(globex):
                assert count("incidents_incident") == 2
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        with org_scope(globex):
            assert count("incidents_incident") == 2
    with org_scope(acme):
        chunks = list(Incident.objects.order_by("key").values_list("key", flat=True).iterator(2))
    assert chunks == sorted(acme_keys)


@pytest.mark.django_db(transaction=True)
def test_a_repeatable_read_transaction_still_sets_its_isolation_first(two_tenants, acme):
    with org_scope(acme), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(
            "SELECT current_setting('transaction_isolation'), count(*) FROM incidents_incident"
        )
        assert cursor.fetchone() == ("repeatable read", 3)


@pytest.mark.django_db(transaction=True)
def test_the_retention_purge_runs_as_the_owner_and_the_app_role_returns(acme):
    from django.conf import settings

    from compliance.retention.services import retention_purge
    from tenancy.rls import as_owner

    def current_user() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            return cursor.fetchone()[0]

    assert current_user() == settings.DATABASE_APP_USER
    with as_owner():
        assert current_user() == settings.DATABASE_OWNER["USER"]
    assert current_user() == settings.DATABASE_APP_USER

    users = []

    def record(execute, sql, params, many, context):
        users.append(context["connection"].settings_dict["USER"])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        retention_purge(organization=acme, origin="test")
    assert users
    assert set(users) == {settings.DATABASE_OWNER["USER"]}
    assert current_user() == settings.DATABASE_APP_USER
