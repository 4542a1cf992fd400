"""B-rls — what row-level security costs a page (issue 11).

The same pages, rendered in-process by Django's test client against the demo database
(`make run`'s `vigil`, seeded by `seed_demo`), in two configurations, alternating rounds:

- plain: Django's stock PostgreSQL backend, connected as the owner (`postgres`): no policies
  apply and nothing is set;
- rls:   Vigil's `config.db` backend connected as `vigil_app`: every statement carries the
  transaction-local tenant setting and PostgreSQL evaluates the policies.

    .venv/bin/python bench/b_rls.py [--requests 60] [--rounds 3]

Each configuration runs in its own process (the engine is fixed per process). Reports p50/p95
per page and the difference; writes bench/results/rls-<timestamp>.json.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "incident list": "/o/acme/incidents/",
    "incident list, filtered": "/o/acme/incidents/?status=investigating&severity=1",
    "dashboard": "/o/acme/reports/",
    "incident page": "/o/acme/incidents/ACME-1/",
}


def child(mode: str, requests: int) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "1"
    import django
    from django.conf import settings

    django.setup()
    if mode == "plain":
        database = settings.DATABASES["default"]
        database["ENGINE"] = "django.db.backends.postgresql"
        database.update(settings.DATABASE_OWNER)
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    from tenancy.models import User

    client.force_login(User.objects.get(email="manager@acme.test"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        user = cursor.fetchone()[0]
    out = {
        "mode": mode,
        "user": user,
        "engine": connection.vendor + ":" + type(connection).__module__,
    }
    for name, url in PAGES.items():
        for _ in range(5):
            assert client.get(url).status_code == 200, url
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        out[name] = times
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return
    samples = {"plain": {p: [] for p in PAGES}, "rls": {p: [] for p in PAGES}}
    users = {}
    load = [os.getloadavg()]
    for _ in range(args.rounds):
        for mode in ("plain", "rls"):
            output = subprocess.run(  # noqa: S603
                [sys.executable, __file__, "--child", mode, "--requests", str(args.requests)],
                check=True, capture_output=True, text=True, cwd=ROOT,
            ).stdout  # fmt: skip
            result = json.loads(output.strip().splitlines()[-1])
            users[mode] = result["user"]
            for page in PAGES:
                samples[mode][page].extend(result[page])
    load.append(os.getloadavg())
    report = {"users": users, "load_before_after": load, "pages": {}}
    print(f"{'page':<28} {'plain p50':>10} {'rls p50':>9} {'plain p95':>10} {'rls p95':>9}")
    for page in PAGES:
        row = {}
        for mode in ("plain", "rls"):
            values = sorted(samples[mode][page])
            row[mode] = {
                "p50": round(statistics.median(values), 1),
                "p95": round(values[int(len(values) * 0.95) - 1], 1),
                "n": len(values),
            }
        report["pages"][page] = row
        print(
            f"{page:<28} {row['plain']['p50']:>10} {row['rls']['p50']:>9} "
            f"{row['plain']['p95']:>10} {row['rls']['p95']:>9}"
        )
    print("users:", users, "load:", load)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = ROOT / "bench" / "results" / f"rls-{stamp}.json"
    path.write_text(json.dumps(report, indent=1))
    print("wrote", path.relative_to(ROOT))


if __name__ == "__main__":
    main()
