"""Checks that PostgreSQL and Redis answer before Vigil starts, and creates the database when
it is missing. Each failure is one sentence saying what, where, and how to fix it.

    python -m config.preflight [--create-database] [--skip-redis]
"""

import argparse
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

HOW_TO_START_POSTGRES = (
    "start it with `docker compose up -d db redis` or the system service "
    "(e.g. `pg_ctlcluster 15 main start`), or point DATABASE_URL at a running server"
)
HOW_TO_START_REDIS = (
    "start it with `docker compose up -d db redis` or the system service "
    "(e.g. `redis-server --daemonize yes`), or point REDIS_URL at a running server"
)


def _say(sentence: str) -> None:
    sys.stderr.write(f"Vigil cannot start: {sentence}\n")


def _params(db: dict, credentials: dict) -> dict:
    return {
        "host": credentials.get("HOST") or db.get("HOST") or None,
        "port": credentials.get("PORT") or db.get("PORT") or None,
        "user": credentials.get("USER") or None,
        "password": credentials.get("PASSWORD") or None,
        "connect_timeout": db.get("OPTIONS", {}).get("connect_timeout", 5),
    }


def check_database(create: bool) -> bool:
    """The database answers to the owner and to the application's role; with `create`, the
    database and the application's role are made when missing (development: needs an owner
    allowed to CREATEDB and CREATEROLE; in production create them as docs/operations.md says)."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    owner = _params(db, settings.DATABASE_OWNER)
    app = _params(db, db)
    if create and not _create_missing(db, owner, app, where):
        return False
    for who, params in (("owner", owner), ("application", app)):
        try:
            with psycopg.connect(dbname=db["NAME"], **params):
                pass
        except psycopg.OperationalError as exc:
            message = str(exc)
            if "does not exist" in message and f'"{db["NAME"]}"' in message:
                _say(
                    f"the database {db['NAME']!r} does not exist on {where}; "
                    "run `make run` to create it."
                )
            else:
                lines = [line.strip() for line in message.splitlines() if line.strip()]
                first = lines[0] if lines else "no answer"
                if "role" in message or "authentication" in message or "password" in message:
                    _say(
                        f"PostgreSQL at {where} does not let the {who} role "
                        f"{params['user']!r} in ({first}); run `make run` once to create the "
                        "roles, or see docs/operations.md, “Database roles and row-level security”."
                    )
                else:
                    _say(
                        f"PostgreSQL at {where} is not reachable ({first}); "
                        + HOW_TO_START_POSTGRES
                        + "."
                    )
            return False
    return True


def _create_missing(db: dict, owner: dict, app: dict, where: str) -> bool:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **owner) as conn:
            if app["user"] and app["user"] != owner["user"]:
                found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app["user"]])
                if found.fetchone() is None:
                    # Neither superuser, nor BYPASSRLS, nor owner of anything: the policies
                    # bind it (docs/operations.md).
                    conn.execute(
                        sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB").format(
                            sql.Identifier(app["user"])
                        )
                    )
                    print(f"Created the application role {app['user']!r} on {where}.")
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
                print(f"Created the database {db['NAME']!r} on {where}.")
    except psycopg.OperationalError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        _say(
            f"PostgreSQL at {where} is not reachable ({lines[0] if lines else 'no answer'}); "
            f"{HOW_TO_START_POSTGRES}."
        )
        return False
    except psycopg.Error as exc:
        _say(f"could not create the database {db['NAME']!r} or its roles on {where} ({exc}).")
        return False
    return True


def check_redis() -> bool:
    import redis
    from django.conf import settings

    url = settings.REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        _say(f"Redis at {url} is not reachable ({exc}); {HOW_TO_START_REDIS}.")
        return False
    finally:
        client.close()
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--create-database", action="store_true")
    parser.add_argument("--skip-redis", action="store_true")
    args = parser.parse_args(argv)
    import django

    django.setup()
    ok = check_database(args.create_database)
    if not args.skip_redis:
        ok = check_redis() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
