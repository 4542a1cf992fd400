"""Fixtures shared by every test: organisations, members per role, a strict client."""

import functools
import os
import re

import pytest
from django.core import management
from django.http import HttpRequest
from django.test import Client
from django_scopes import get_scope

from config.db.base import ALL, NOTHING, unscoped
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory
from tests.logcanary import pytest_sessionfinish, pytest_sessionstart  # noqa: F401 — the log canary

# Playwright drives the browser from an event loop; the ORM calls in browser tests are
# synchronous on purpose (stack notes).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config):
    from django.conf import settings

    # Hashing speed is not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Pages are tested by role, signed in with a password only; the two-factor requirement
    # (production default: admin and compliance) is switched on by tests/accounts/.
    settings.VIGIL_2FA_REQUIRED_ROLES = []


_APP_CREDENTIALS: dict = {}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The test database is created and migrated by the owner, as in production; the tests then
    run as the application's role, which row-level security binds (see django_db_setup)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    _APP_CREDENTIALS.update(USER=database.get("USER"), PASSWORD=database.get("PASSWORD"))
    database.update(settings.DATABASE_OWNER)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Drop django-auditlog's own log table, unused since AUDITLOG_LOGENTRY_MODEL points at
    tenancy.AuditEntry: its migrations create it anyway, with foreign keys to the user and
    content type tables, so the flush that ends every transactional test (live server,
    Celery worker) fails (jazzband/django-auditlog#804).

    Then every connection acts as the application's role (DATABASE_URL's user): the whole
    suite runs under the row-level security policies. The connection logs in as the owner and
    switches role at start-up (`-c role=…`), so a test can act as the owner inside its own
    transaction (tests/dbroles.py: tampering with the audit trail, as an attacker with the
    owner's access would). Only here, the role may also TRUNCATE — the flush after each
    transactional test needs it; production never grants it."""
    from django.conf import settings
    from django.db import connection

    role = _APP_CREDENTIALS.get("USER")
    separate = role and role != settings.DATABASE_OWNER.get("USER")
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS auditlog_logentry")
        if separate:
            cursor.execute(f'GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO "{role}"')
    options = dict(connection.settings_dict.get("OPTIONS") or {})
    with django_db_blocker.unblock():
        connection.close()
    if separate:
        connection.settings_dict["OPTIONS"] = {**options, "options": f"-c role={role}"}
    yield
    with django_db_blocker.unblock():
        connection.close()
    connection.settings_dict["OPTIONS"] = options  # the owner drops the test database


_UNSCOPED_TENANT_SQL: list[str] = []


def _tenant_table_pattern():
    from django.apps import apps

    tables = sorted(
        model._meta.db_table
        for model in apps.get_models()
        if any(f.name == "organization" for f in model._meta.get_fields())
    )
    return re.compile(r'\b"?(' + "|".join(map(re.escape, tables)) + r')"?\b')


@pytest.fixture(autouse=True)
def _no_tenant_statement_without_a_scope(request):
    """Vigil's own code (a request, a command, a task) must not touch a tenant table with no
    scope at all: row-level security shows it nothing, so the statement silently does nothing.
    Every such statement during a test fails that test (tests that probe the policies on
    purpose are marked `unscoped_sql`)."""
    from config.db import base

    if request.node.get_closest_marker("unscoped_sql"):
        yield
        return
    pattern = _tenant_table_pattern()

    def record(sql):
        if isinstance(sql, str) and pattern.search(sql):
            _UNSCOPED_TENANT_SQL.append(sql[:300])

    base.on_unscoped = record
    try:
        yield
    finally:
        base.on_unscoped = None
    found, _UNSCOPED_TENANT_SQL[:] = list(_UNSCOPED_TENANT_SQL), []
    assert not found, "tenant tables read or written with no scope:\n" + "\n".join(found[:5])


@pytest.fixture(autouse=True)
def _test_code_writes_across_organisations():
    """A test's own set-up and assertions, outside any scope, reach every organisation's rows
    in the database (as fixtures and factories always have: django-scopes never guarded
    `create()`, PostgreSQL's policies would). Requests (StrictClient), commands
    (call_command) and OrgTasks run as Vigil does: no scope, no rows."""
    with unscoped(ALL):
        yield


class StrictClient(Client):
    """A test client that refuses to send a request while the test holds a tenant scope:
    the view would run in the test's scope and hide a missing one. The request runs under
    row-level security as in production."""

    def request(self, **request):
        assert not get_scope(), "request sent with an active (or disabled) tenant scope"
        with unscoped(NOTHING):  # as Vigil runs: no scope, no rows
            return super().request(**request)

    def login(self, **credentials):
        # django-axes checks every authentication against the request it came with.
        if "request" not in credentials:
            credentials["request"] = HttpRequest()
            credentials["request"].META["REMOTE_ADDR"] = "127.0.0.1"
        return super().login(**credentials)


def _call_command_as_vigil_runs(call_command):
    @functools.wraps(call_command)
    def run(*args, **kwargs):
        with unscoped(NOTHING):  # as Vigil runs: no scope, no rows
            return call_command(*args, **kwargs)

    return run


management.call_command = _call_command_as_vigil_runs(management.call_command)


@pytest.fixture(autouse=True)
def _fresh_ingest_caches():
    """Ingestion caches sources, rules and windows per process for a few seconds; every test
    starts without what an earlier test's (rolled back) rows left there."""
    from integrations import ingest

    for cache in (ingest.SOURCES, ingest.WINDOWS, ingest.RULES):
        cache.forget()


@pytest.fixture
def client():
    return StrictClient()


@pytest.fixture
def acme(db):
    return OrganizationFactory(
        slug="acme", name="Acme Payments", key_prefix="ACME", timezone="Europe/Berlin"
    )


@pytest.fixture
def globex(db):
    return OrganizationFactory(
        slug="globex", name="Globex Energy", key_prefix="GLX", timezone="America/New_York"
    )


@pytest.fixture
def make_member(db):
    """make_member(org, role, email=None) → the membership of a new user."""

    def make(org, role=Role.RESPONDER, email=None, **user_fields):
        user = UserFactory(email=email, **user_fields) if email else UserFactory(**user_fields)
        return MembershipFactory(organization=org, user=user, role=role)

    return make


@pytest.fixture
def acme_admin(acme, make_member):
    return make_member(acme, Role.ADMIN, email="admin@acme.test")


@pytest.fixture
def globex_admin(globex, make_member):
    return make_member(globex, Role.ADMIN, email="admin@globex.test")


@pytest.fixture
def login(client):
    """login(user) signs the strict test client in as `user` and returns it."""

    def sign_in(user):
        assert client.login(username=user.email, password=PASSWORD)
        return client

    return sign_in


@pytest.fixture
def acme_scope(acme):
    with org_scope(acme):
        yield acme


@pytest.fixture
def celery_worker(transactional_db, settings):
    """worker = celery_worker(); a real worker process on the test database and a Redis
    database of its own. The test's own Celery client sends there too."""
    from config.celery import app
    from tests.worker import TEST_BROKER, Worker, flush_test_broker

    flush_test_broker()
    previous = app.conf.broker_url

    def use_broker(url):
        # Forget the cached pools (kombu keeps them per URL; closing them would poison its
        # registry for the next test).
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    use_broker(TEST_BROKER)
    workers = []

    def start(concurrency: int = 2):
        worker = Worker(concurrency=concurrency).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    use_broker(previous)
    flush_test_broker()


# — people of each role in acme, and a stranger (shared by the app test packages) ——————————


@pytest.fixture
def responder(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita").user


@pytest.fixture
def other_responder(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar").user


@pytest.fixture
def viewer(acme, make_member):
    return make_member(acme, Role.VIEWER, email="vera@acme.test", full_name="Vera").user


@pytest.fixture
def manager(acme, make_member):
    return make_member(acme, Role.MANAGER, email="max@acme.test", full_name="Max").user


@pytest.fixture
def admin(acme_admin):
    return acme_admin.user


@pytest.fixture
def stranger(globex_admin):
    """An admin — of globex: no role at all in acme."""
    return globex_admin.user


@pytest.fixture(scope="session")
def base_url(live_server):
    """Relative URLs in Playwright's `page.goto()` resolve against the live server, for every
    browser test in the session: pytest-playwright caches its context arguments for the whole
    session, so whichever browser test runs first must not leave them without a base URL."""
    return live_server.url
