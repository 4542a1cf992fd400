"""The Content-Security-Policy's promises, checked on the source: no inline script, event
handler, hx-on, javascript: URL, style attribute or <style> element in a template a browser
gets; the SVG charts' constant <style> elements match the hashes the policy allows. The browser
proves the rest (tests/e2e/test_csp_browser.py)."""

import base64
import hashlib
import re
from pathlib import Path

import pytest
from django.conf import settings

from reporting import svg

ROOT = Path(__file__).resolve().parents[2]
# WeasyPrint renders these to PDF on the server; no browser applies a CSP to them.
PDF_TEMPLATE = re.compile(r"_pdf\.html$")
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "hx-on attribute": re.compile(r"\shx-on", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "<style> element without the nonce": re.compile(r"<style(?![^>]*\bnonce=)[\s>]", re.I),
    "htmx filter (needs eval)": re.compile(r"hx-trigger=\"[^\"]*\["),
    "js: value (needs eval)": re.compile(r"hx-vals=['\"]js:", re.I),
}


def browser_templates():
    for path in ROOT.rglob("templates/**/*.html"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "staticfiles", "node_modules"} or PDF_TEMPLATE.search(path.name):
            continue
        yield path


def test_no_template_a_browser_gets_needs_unsafe_inline_or_eval():
    offences = []
    templates = list(browser_templates())
    for path in templates:
        text = path.read_text()
        for what, pattern in FORBIDDEN.items():
            if pattern.search(text):
                offences.append(f"{path.relative_to(ROOT)}: {what}")
    assert len(templates) > 100
    assert offences == []


@pytest.mark.parametrize("style", [svg.BAR_CHART_STYLE, svg.LINE_CHART_STYLE])
def test_the_svg_chart_styles_are_allowed_by_hash(style):
    inner = style.removeprefix("<style>").removesuffix("</style>")
    digest = base64.b64encode(hashlib.sha256(inner.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]


def test_the_policy_has_no_unsafe_source():
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    for name, sources in directives.items():
        assert not any("unsafe" in str(source) for source in sources), name
    assert directives["script-src"] == ["'self'"]


def test_htmx_is_configured_for_the_policy():
    base = (ROOT / "templates/base.html").read_text()
    assert '"includeIndicatorStyles": false' in base
    assert '"allowEval": false' in base
