"""Every environment variable Vigil's code reads is documented in docs/operations.md.

The code is searched for the reading helpers of config/env.py (env_str, env_bool, env_int,
env_list, with a literal name) and for os.environ / os.getenv with a literal name, in every
Python file of the repository (settings, apps, benchmarks, tests). A name counts as documented
when docs/operations.md has it in backticks (`NAME`), or a documented prefix pattern
(`VIGIL_PAGERDUTY_*`) covers it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
SKIP_DIRS = {".venv", "node_modules", ".git", "staticfiles", "__pycache__"}

READS = re.compile(
    r"""(?:env_(?:str|bool|int|list|float)\(\s*
          |os\.environ(?:\.get|\.setdefault|\.pop)?\s*[\[(]\s*
          |os\.getenv\(\s*)
        ["']([A-Z][A-Z0-9_]*)["']""",
    re.VERBOSE,
)


def python_files():
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIP_DIRS or path == Path(__file__).resolve():
            continue
        yield path


def names_read() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in python_files():
        for name in READS.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def documented(doc: str, name: str) -> bool:
    if f"`{name}`" in doc:
        return True
    return any(name.startswith(prefix) for prefix in re.findall(r"`([A-Z][A-Z0-9_]*_)\*`", doc))


def test_the_search_finds_the_known_reads():
    found = names_read()
    for name in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
        assert name in found, name
    assert READS.findall('x = env_int("SOME_NAME", 3); os.environ["OTHER"]') == [
        "SOME_NAME",
        "OTHER",
    ]


def test_every_environment_variable_is_documented_in_operations_md():
    doc = DOC.read_text(encoding="utf-8")
    missing = {
        name: sorted(files) for name, files in names_read().items() if not documented(doc, name)
    }
    assert not missing, (
        "environment variables read by the code but missing from docs/operations.md "
        "(add a row to its table 'Environment variables'): "
        + "; ".join(
            f"{name} (read in {', '.join(files)})" for name, files in sorted(missing.items())
        )
    )
