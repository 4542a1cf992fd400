"""Every HTML page carries the browser-security headers (docs/browser-security.md); production
settings pass `check --deploy`; DEBUG is off unless asked for; an error shows no traceback."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, path

from tenancy.roles import Role
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
# Routes that do something other than show a page on GET, or need what a GET cannot give.
SKIPPED_NAMES = {"logout", "healthz", "readyz"}


def routes_without_object_ids(resolver=None, prefix=""):
    """(route, name) for every URL pattern whose only parameter is the organisation's slug."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from routes_without_object_ids(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if route.startswith("^") or "(?P" in route or route.startswith("admin/"):
                continue  # regex routes (the admin's, DRF's format suffixes)
            params = {p.split(">")[0].split(":")[-1] for p in route.split("<")[1:]}
            if params <= {"org_slug"} and entry.name not in SKIPPED_NAMES:
                yield route.replace("<slug:org_slug>", "acme"), entry.name


def assert_browser_headers(response, url):
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp, url
    assert "script-src 'self'" in csp, url
    assert "unsafe-inline" not in csp, url
    assert "unsafe-eval" not in csp, url
    assert "frame-ancestors 'none'" in csp, url
    assert "object-src 'none'" in csp, url
    assert "base-uri 'none'" in csp, url
    assert "form-action 'self'" in csp, url
    assert response["X-Frame-Options"] == "DENY", url
    assert response["X-Content-Type-Options"] == "nosniff", url
    assert response["Referrer-Policy"] == "same-origin", url
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
    assert "camera=()" in response["Permissions-Policy"], url


@pytest.mark.django_db
def test_every_html_page_without_object_ids_has_the_header_set(acme, make_member, client):
    user = make_member(acme, Role.ADMIN, email="root@acme.test").user
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    checked = []
    for route, _name in routes_without_object_ids():
        url = "/" + route
        response = client.get(url)
        if response.status_code in (301, 302, 405) or "html" not in response.get(
            "Content-Type", ""
        ):
            continue
        assert response.status_code < 500, url
        assert_browser_headers(response, url)
        checked.append(url)
    for url in ("/admin/", "/admin/tenancy/organization/", "/api/v1/docs/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_browser_headers(response, url)
        checked.append(url)
    # The walk reaches the pages that matter (a regression that resolved nothing would pass).
    assert "/o/acme/incidents/" in checked
    assert "/o/acme/reports/" in checked
    print(f"HTML routes checked: {len(checked)}")
    assert len(checked) >= 60, checked


@pytest.mark.django_db
def test_the_login_page_and_error_pages_have_the_headers_too(client, acme):
    assert_browser_headers(client.get("/accounts/login/"), "/accounts/login/")
    assert_browser_headers(client.get("/no-such-page/"), "/no-such-page/")


@pytest.mark.django_db
def test_the_session_and_csrf_cookies_are_httponly_and_samesite_lax(client, admin):
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"username": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert client.cookies["csrftoken"]["samesite"] == "Lax"


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter with Vigil's real settings module and only `env` set."""
    dropped = {
        "DEBUG",
        "SECRET_KEY",
        "HTTPS",
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    full_env.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_NAME, "
    "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_HTTPONLY)"
)


def test_debug_is_off_when_the_environment_does_not_say():
    result = run_python(PRINT_SETTINGS, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


def test_without_debug_a_secret_key_is_required():
    result = run_python(PRINT_SETTINGS)
    assert result.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr


def test_production_cookies_are_secure_and_host_prefixed():
    result = run_python(PRINT_SETTINGS, SECRET_KEY=secrets.token_urlsafe(50), HTTPS="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "__Host-sessionid",
        "True",
        "__Host-csrftoken",
        "True",
        "31536000",
        "True",
    ]


# `check --deploy --fail-level WARNING` with production settings: tests/config/test_settings.py.


def explode(request):
    raise RuntimeError("canary-internal-detail-7f3a")


urlpatterns = [path("explode/", explode)]


@pytest.mark.urls("tests.web.test_headers")
def test_an_unhandled_error_shows_the_plain_500_page_without_a_traceback(settings, client, db):
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get("/explode/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "Traceback" not in body
    assert "canary-internal-detail-7f3a" not in body
    assert "RuntimeError" not in body
