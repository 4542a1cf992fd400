"""B-dash — the reports dashboard (`reporting:dashboard`) at 1 M incidents (issue 9).

Targets: p95 ≤ 150 ms with 1,000,000 incidents in the organisation, ≤ 100 ms with 50,000.

In a throwaway database (`vigil_bench_dash`, dropped and re-created): migrate, `seed_demo`
(organisations acme and globex with their users, teams and demo taxonomy), then
`generate_incidents --org acme --count 1000000` and `--org globex --count 50000` (3 years,
fixed seeds), VACUUM ANALYZE. Then, in this process (Django test client, the whole view:
middleware, form, KPI queries, template), per organisation: one warm-up load, 20 loads with
the default filters (last 30 days) and 20 with a service filter (the service with the most
incidents), each timed with perf_counter around `client.get`; p50/p95 per case.

Each case is measured twice: reading the incidents directly ("raw", no roll-up built), then
after `manage.py refresh_rollups` has built the daily roll-ups (timed) with today marked dirty
before the loads, as it is all day in production (today's incidents are counted live). Last,
the executive report PDF of the last full month for acme (render time and page count).

    .venv/bin/python bench/b_dashboard.py [--count 1000000] [--small 50000] [--loads 20]
                                          [--keep] [--reuse]

`--reuse` skips the set-up when the database exists (it still migrates, so new indexes apply);
`--keep` keeps the database afterwards.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "vigil_bench_dash"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
TARGETS_MS = {"acme": 150, "globex": 100}
VIEWERS = {"acme": "manager@acme.test", "globex": "admin@globex.test"}


def env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": DSN.replace("postgresql", "postgres"),
        "DEBUG": "1",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/5"),
    }


def manage(*args: str) -> str:
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"{' '.join(args)}: {time.perf_counter() - started:.1f} s")
    return result.stdout


def exists() -> bool:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        return found.fetchone() is not None


def set_up(count: int, small: int) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "-v0")
    manage("seed_demo")
    print(manage("generate_incidents", "--org", "acme", "--count", str(count), "--seed", "1"))
    print(manage("generate_incidents", "--org", "globex", "--count", str(small), "--seed", "2"))


def analyze() -> None:
    started = time.perf_counter()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('incidents_incident')), "
            "pg_size_pretty(pg_total_relation_size('incidents_slatimer'))"
        ).fetchone()
    print(
        f"vacuum analyze: {time.perf_counter() - started:.1f} s; incidents {size[0]}, "
        f"SLA timers {size[1]} (tables with indexes)"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(loads: int, engine: str) -> list[dict]:
    os.environ.update(env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse
    from django_scopes import scopes_disabled

    from incidents.models import Incident
    from tenancy.models import Organization, User

    results = []
    if engine == "roll-ups":
        from django.db import connection
        from django.utils import timezone

        with connection.cursor() as cursor:  # today is dirty all day in production
            for org in Organization.objects.all():
                today = timezone.now().astimezone(org.tzinfo).date()
                cursor.execute(
                    "INSERT INTO reporting_rollupdirty (organization_id, day) VALUES (%s, %s)",
                    [org.pk, today],
                )
    for slug in ("acme", "globex"):
        with scopes_disabled():
            org = Organization.objects.get(slug=slug)
            total = Incident.objects.filter(organization=org).count()
            service = (
                Incident.objects.filter(organization=org, primary_service__isnull=False)
                .values("primary_service")
                .annotate(n=Count("pk"))
                .order_by("-n")
                .first()["primary_service"]
            )
        client = Client()
        client.force_login(User.objects.get(email=VIEWERS[slug]))
        url = reverse("reporting:dashboard", kwargs={"org_slug": slug})
        for case, query in (("default filters", {}), ("service filter", {"service": service})):
            first = time.perf_counter()
            response = client.get(url, query)
            first = (time.perf_counter() - first) * 1000
            assert response.status_code == 200, response.status_code
            assert b"incidents reported" in response.content, "no KPI table (invalid form?)"
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                response = client.get(url, query)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            row = {
                "org": slug,
                "engine": engine,
                "incidents": total,
                "case": case,
                "first": first,
                "p50": statistics.median(times),
                "p95": percentile(times, 0.95),
                "max": max(times),
                "target": TARGETS_MS[slug],
                "load": os.getloadavg()[0],
            }
            results.append(row)
            verdict = "met" if row["p95"] <= row["target"] else "MISSED"
            print(
                f"{slug} ({total:,} incidents), {engine}, {case}, last 30 days: "
                f"first {first:.0f} ms, p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms, "
                f"max {row['max']:.0f} ms — target p95 ≤ {row['target']} ms {verdict} "
                f"(load {row['load']:.2f})"
            )
    return results


def executive_pdf() -> None:
    """The executive report of the last full month for acme: render time and pages."""
    import datetime

    from django.utils import timezone
    from django_scopes import scopes_disabled

    from reporting import executive
    from tenancy.models import Organization
    from tenancy.scoping import org_scope

    with scopes_disabled():
        org = Organization.objects.get(slug="acme")
    today = timezone.now().astimezone(org.tzinfo).date()
    last = today.replace(day=1) - datetime.timedelta(days=1)
    first = last.replace(day=1)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with org_scope(org):
            pdf = executive.render(
                organization=org,
                first=first,
                last=last,
                frequency="monthly",
                generated_at=timezone.now(),
            )
        times.append((time.perf_counter() - started) * 1000)
    pages = executive.page_count(pdf)
    print(
        f"executive PDF ({first} – {last}, acme): {pages} pages, {len(pdf):,} bytes; "
        f"render p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms over 5 "
        f"(load {os.getloadavg()[0]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing database")
    parser.add_argument(
        "--skip-raw", action="store_true", help="only the roll-up measurements (and the PDF)"
    )
    args = parser.parse_args()

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"commit {commit}, load average {os.getloadavg()}")
    if args.reuse and exists():
        manage("migrate", "-v0")
    else:
        set_up(args.count, args.small)
    analyze()
    print(f"load average before timing {os.getloadavg()}")
    if not args.skip_raw:
        measure(args.loads, "raw")
    print(manage("refresh_rollups"))
    analyze()
    print(f"load average before timing {os.getloadavg()}")
    measure(args.loads, "roll-ups")
    executive_pdf()

    if not args.keep:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {DATABASE}")


if __name__ == "__main__":
    main()
