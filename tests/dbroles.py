"""Acting as the tables' owner inside a test's transaction (tests/conftest.py: the suite's
connections log in as the owner and switch to the application's role at start-up)."""

import contextlib

from django.conf import settings
from django.db import connection


@contextlib.contextmanager
def as_table_owner():
    """The owner's powers (disable a trigger, bypass row-level security) until the block ends,
    as an attacker with the owner's access would have; the application's role again after."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE NONE")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'SET LOCAL ROLE "{settings.DATABASE_APP_USER}"')
