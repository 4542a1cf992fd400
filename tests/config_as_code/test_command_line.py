"""The commands as a shell runs them: standard input and output, and the exit codes
(0 done or no changes, 1 refused, 2 usage) that call_command does not show."""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.worker import Worker

pytestmark = pytest.mark.usefixtures("transactional_db")  # the process must see the rows


def manage(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=Worker().env(),
        timeout=120,
        check=False,
    )


def test_export_to_stdout_and_import_from_stdin_with_exit_codes(acme, acme_admin):
    exported = manage("export_config", "--org", "acme")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("version: 1\n")

    unchanged = manage("import_config", "--org", "acme", stdin=exported.stdout)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout.strip() == "No changes."

    malformed = manage("import_config", "--org", "acme", stdin="version: 1\nteams: [\n")
    assert malformed.returncode == 1
    assert "Malformed YAML: line 3, column 1:" in malformed.stderr

    invalid = manage("import_config", "--org", "acme", stdin="version: 1\nteams: [{}]\n")
    assert invalid.returncode == 1
    assert "teams[0].name: is required" in invalid.stderr

    for args in (["--org", "nope"], ["--org", "acme", "--apply"], []):
        usage = manage("import_config", *args, stdin=exported.stdout)
        assert usage.returncode == 2, (args, usage.stderr)
