"""The 500 handler answers 503 + Retry-After when the cause is a store outage (the fault tests
see it against real servers; these pin each branch quickly)."""

import json

import pytest
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from config.errors import server_error


def _answer(rf, path: str, error: Exception):
    try:
        raise error
    except Exception:  # noqa: BLE001 — the handler reads sys.exc_info(), as in Django
        return server_error(rf.get(path))


@pytest.mark.parametrize(
    "error", [OperationalError("connection refused"), InterfaceError("closed"), BrokerError("x")]
)
def test_an_outage_answers_a_page_with_503_and_retry_after(rf, error):
    response = _answer(rf, "/o/acme/incidents/", error)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"briefly unavailable" in response.content


def test_machine_surfaces_get_json(rf):
    response = _answer(rf, "/hooks/abc/", OperationalError("server closed the connection"))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert json.loads(response.content) == {
        "error": "Vigil's data store is unavailable; retry later."
    }


def test_any_other_error_is_still_a_500(rf):
    response = _answer(rf, "/o/acme/incidents/", ValueError("a bug"))
    assert response.status_code == 500
    assert "Retry-After" not in response
