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


def check_database(create: bool) -> bool:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "connect_timeout": db.get("OPTIONS", {}).get("connect_timeout", 5),
    }
    try:
        with psycopg.connect(dbname=db["NAME"], **params):
            return True
    except psycopg.OperationalError as exc:
        message = str(exc)
        missing = "does not exist" in message and f'"{db["NAME"]}"' in message
        if not missing:
            lines = [line.strip() for line in message.splitlines() if line.strip()]
            first = lines[0] if lines else "no answer"
            _say(f"PostgreSQL at {where} is not reachable ({first}); {HOW_TO_START_POSTGRES}.")
            return False
    if not create:
        _say(f"the database {db['NAME']!r} does not exist on {where}; run `make run` to create it.")
        return False
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    except psycopg.Error as exc:
        _say(f"could not create the database {db['NAME']!r} on {where} ({exc}).")
        return False
    print(f"Created the database {db['NAME']!r} on {where}.")
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
