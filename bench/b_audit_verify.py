"""B-audit — `verify_audit` over 1 M audit entries of one organisation (issue 8: ≤ 10 s).

In a throwaway database (`vigil_bench_audit`, dropped and re-created): migrate, create one
organisation, insert N entries (default 1,000,000) with one set-based INSERT … SELECT — the
chain trigger links each row as it would in production (so the insert rate under the trigger
is measured too) — VACUUM ANALYZE, then time `manage.py verify_audit --org bench` three times
(wall clock of the whole command, and the verification's own time), then alter one entry in
the middle through the retention gate and time the run that names it.

    .venv/bin/python bench/b_audit_verify.py [--rows 1000000] [--keep]
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "vigil_bench_audit"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"

SEED = """
INSERT INTO tenancy_auditentry (
    object_pk, object_id, object_repr, action, changes_text, changes, remote_addr, timestamp,
    additional_data, origin, content_type_id, organization_id, actor_email, prev_hash,
    entry_hash)
SELECT g::text, g, 'Incident BENCH-' || g, g %% 3, '',
       jsonb_build_object('title', jsonb_build_array('old title ' || g, 'new title ' || g),
                          'status', jsonb_build_array('reported', 'investigating')),
       '10.1.2.3', now() - make_interval(secs => %(rows)s - g), NULL, 'web',
       (SELECT id FROM django_content_type WHERE app_label = 'incidents' AND model = 'incident'),
       %(org)s, 'rita@bench.test', '', ''
  FROM generate_series(1, %(rows)s) g
"""


def env() -> dict:
    return {**os.environ, "DATABASE_URL": DSN.replace("postgresql", "postgres"), "DEBUG": "1"}


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
    )


def timed_verify(label: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = manage("verify_audit", "--org", "bench", check=False)
    wall = time.perf_counter() - started
    output = (result.stdout + result.stderr).strip()
    inner = re.search(r"in ([\d.]+) s", output)
    load = os.getloadavg()[0]
    print(f"{label}: exit {result.returncode}, wall {wall:.2f} s, load {load:.1f}", end="")
    print(f", verification {inner.group(1)} s" if inner else "")
    print(f"    {output[:300]}")
    return wall, output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    started = time.perf_counter()
    manage("migrate", "-v0")
    print(f"migrate: {time.perf_counter() - started:.1f} s")

    with psycopg.connect(DSN, autocommit=True) as conn:
        org = conn.execute(
            "INSERT INTO tenancy_organization (name, slug, key_prefix, timezone, created_at) "
            "VALUES ('Bench', 'bench', 'BENCH', 'UTC', now()) RETURNING id"
        ).fetchone()[0]
        started = time.perf_counter()
        conn.execute(SEED, {"rows": args.rows, "org": org})
        seconds = time.perf_counter() - started
        print(
            f"insert {args.rows:,} entries through the chain trigger: {seconds:.1f} s "
            f"({args.rows / seconds:,.0f} rows/s)"
        )
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE tenancy_auditentry")
        print(f"vacuum analyze: {time.perf_counter() - started:.1f} s")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('tenancy_auditentry'))"
        ).fetchone()[0]
        print(f"table with indexes: {size}")

    walls = [timed_verify(f"verify run {n}")[0] for n in (1, 2, 3)]
    walls.sort()
    print(f"verify wall clock: median {walls[1]:.2f} s, best {walls[0]:.2f} s")

    with psycopg.connect(DSN) as conn:
        target = conn.execute(
            "SELECT id FROM tenancy_auditentry WHERE organization_id = %s "
            "ORDER BY id OFFSET %s LIMIT 1",
            [org, args.rows // 2],
        ).fetchone()[0]
        conn.execute("SELECT set_config('vigil.audit_retention', 'on', true)")
        conn.execute(
            "UPDATE tenancy_auditentry SET object_repr = 'tampered' WHERE id = %s", [target]
        )
        conn.commit()
    _, output = timed_verify(f"verify after altering entry #{target}")
    assert f"#{target}" in output, "the altered entry was not named"

    if not args.keep:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {DATABASE}")


if __name__ == "__main__":
    main()
