"""scripts/backup.sh and scripts/restore.sh, for real: the demo data is committed to this test
run's database, backed up with pg_dump -Fc, restored with pg_restore into a new scratch
database, and compared — row counts of every table, and each organisation's audit hash chain
verified in the restored copy (`manage.py verify_audit`, the same head hash as the source)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from compliance.audit_chain import verify
from tenancy.models import Organization

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "scripts" / "backup.sh"
RESTORE = ROOT / "scripts" / "restore.sh"
TIMEOUT = 120  # per script or command; the whole test takes seconds

pytestmark = pytest.mark.django_db(transaction=True)


def _url(name: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 — our own scripts
        argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT, check=False, **kwargs
    )


@pytest.fixture
def scratch_name():
    name = f"vigil_restore_{os.getpid()}"
    yield name
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def demo(settings, monkeypatch):
    from incidents import demo as incident_demo

    monkeypatch.setattr(incident_demo, "DEMO_INCIDENTS", {"acme": 6, "globex": 4})
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with scopes_disabled():
        return list(Organization.objects.order_by("slug"))


def test_backup_then_restore_gives_the_same_rows_and_an_intact_audit_chain(
    demo, scratch_name, tmp_path
):
    source = _url(connection.settings_dict["NAME"])
    dump = tmp_path / "vigil.dump"
    heads = {org.slug: verify(org) for org in demo}
    assert all(result.ok and result.count > 0 for result in heads.values())
    before = _counts(source)
    assert before["incidents_incident"] >= 10
    assert before["tenancy_auditentry"] > 0

    began = time.monotonic()
    backup = _run([str(BACKUP), "-d", source, str(dump)])
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0
    assert not Path(f"{dump}.partial").exists()
    restore = _run([str(RESTORE), "-s", source, str(dump), scratch_name])
    assert restore.returncode == 0, restore.stderr
    took = time.monotonic() - began
    print(f"backup {backup.stdout.strip()}; {restore.stdout.strip()}; both {took:.1f} s")

    assert _counts(_url(scratch_name)) == before

    env = {
        **os.environ,
        "DATABASE_URL": _url(scratch_name),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    for slug, result in heads.items():
        checked = _run([sys.executable, "manage.py", "verify_audit", "--org", slug], env=env)
        assert checked.returncode == 0, checked.stderr + checked.stdout
        assert "audit chain intact" in checked.stdout
        assert f"{result.count} entries verified" in checked.stdout
        assert result.head_hash in checked.stdout


def test_the_scripts_refuse_to_overwrite_and_say_why(scratch_name, tmp_path):
    source = _url(connection.settings_dict["NAME"])
    existing = tmp_path / "there.dump"
    existing.write_text("not a dump")
    refused = _run([str(BACKUP), "-d", source, str(existing)])
    assert refused.returncode == 1
    assert "exists" in refused.stderr
    assert existing.read_text() == "not a dump"

    not_a_dump = _run([str(RESTORE), "-s", source, str(existing), scratch_name])
    assert not_a_dump.returncode == 1
    assert "not a pg_dump -Fc file" in not_a_dump.stderr

    usage = _run([str(RESTORE), "only-one-argument"])
    assert usage.returncode == 2
    assert "Usage:" in usage.stderr

    dump = tmp_path / "ok.dump"
    assert _run([str(BACKUP), "-d", source, str(dump)]).returncode == 0
    over_source = _run([str(RESTORE), "-s", source, str(dump), connection.settings_dict["NAME"]])
    assert over_source.returncode == 1
    assert "exists; restore into a new one" in over_source.stderr
