"""No secret, token or masked personal data is ever written to a log or an error page: the
flows that log (failed login, bad webhook secrets, bad API tokens, a 500 with secrets in the
view's locals and request, a failing Celery task) run with the canaries of tests/logcanary.py,
and neither what was logged (as the JSON formatter writes it) nor the pages contain one."""

import io
import json
import logging

import pytest
from celery import shared_task
from django.test import Client
from django_scopes import scopes_disabled

from config.logging import JsonFormatter
from integrations.models import AlertSource
from tests import logcanary
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured():
    """Everything logged during the test, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def assert_clean(text: str, where: str) -> None:
    found = [label for label, value in logcanary.canaries().items() if value in text]
    assert not found, f"{where} holds {found}"


def records(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_failed_login_logs_neither_the_password_nor_the_address(captured):
    UserFactory(email=logcanary.PII_EMAIL)
    response = Client().post(
        "/accounts/login/",
        {"username": logcanary.PII_EMAIL, "password": logcanary.PASSWORD + "-typo"},
    )
    assert response.status_code in (200, 403, 429)
    # The form shows the address back to whoever typed it; never the password.
    assert logcanary.PASSWORD not in response.content.decode()
    assert_clean(captured.getvalue(), "the log")


def test_bad_and_good_hook_secrets_never_reach_the_log(acme, captured):
    with scopes_disabled():
        source = AlertSource(organization=acme, name="Prometheus", kind="alertmanager")
        source.set_secret(logcanary.HOOK_SECRET)
        source.save()
    client = Client(HTTP_X_REQUEST_ID="canary-request-0001")
    for path, bearer in (
        (f"{logcanary.HOOK_SECRET}-wrong/", ""),
        (f"{logcanary.HOOK_SECRET}/", ""),
        ("", f"{logcanary.HOOK_SECRET}x"),
    ):
        response = client.post(
            f"/hooks/{source.public_id}/{path}?secret={logcanary.HOOK_SECRET}",
            data="{not json",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {bearer}",
        )
        assert response.status_code in (400, 401)
        assert response["X-Request-ID"] == "canary-request-0001"
        assert_clean(response.content.decode(), "the webhook's answer")
    assert_clean(captured.getvalue(), "the log")
    logged = records(captured)
    assert any(r["path"] and "[secret]" in r["path"] for r in logged), logged
    assert all(r["request_id"] == "canary-request-0001" for r in logged if r["path"]), logged


def test_a_bad_api_token_is_not_logged(acme, captured):
    token = f"vgl_abcd1234_{logcanary.API_TOKEN_SECRET}"
    response = Client().get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert_clean(response.content.decode(), "the API's answer")
    assert_clean(captured.getvalue(), "the log")


@pytest.mark.urls("tests.config.canary_urls")
def test_a_500_shows_and_logs_no_secret(settings, captured, acme, admin):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    logcanary.plant("session key", client.session.session_key)
    response = client.post(
        f"/explode/?secret={logcanary.HOOK_SECRET}&email={logcanary.PII_EMAIL}",
        {"password": logcanary.PASSWORD, "phone": logcanary.PII_PHONE},
        HTTP_AUTHORIZATION=f"Bearer vgl_abcd1234_{logcanary.API_TOKEN_SECRET}",
    )
    assert response.status_code == 500
    assert_clean(response.content.decode(), "the error page")
    text = captured.getvalue()
    assert "RuntimeError: upstream refused" in text  # the failure is logged, scrubbed
    assert_clean(text, "the log")
    [error] = [r for r in records(captured) if r["level"] == "ERROR"]
    assert error["path"] == "/explode/"
    assert error["user"] == admin.pk


@shared_task
def leaky_task(password: str, contact: str) -> None:
    raise ValueError(f"could not sign in with password={password} for {contact}")


def test_a_failing_celery_task_logs_no_secret(captured):
    result = leaky_task.apply(
        kwargs={"password": logcanary.PASSWORD, "contact": logcanary.PII_EMAIL}
    )
    assert result.failed()
    text = captured.getvalue()
    assert "leaky_task" in text, text
    assert_clean(text, "the log")
    assert any(r.get("task_id") == result.id for r in records(captured)), text


def test_log_lines_are_single_lines_whatever_the_message(captured):
    logging.getLogger("vigil.test").warning("name=%s", "Eve\n2026-11-27 ERROR forged\r\u2028x")
    [line] = captured.getvalue().splitlines()
    assert json.loads(line)["message"] == "name=Eve\n2026-11-27 ERROR forged\r\u2028x"
    assert "\u2028" not in line


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="evil\nid with spaces")
    assert response["X-Request-ID"] != "evil\nid with spaces"
    assert len(response["X-Request-ID"]) == 32
