"""Every inbound alert adapter fed arbitrary input through POST /hooks/<id>/: payloads shaped
like each vendor's (keys missing, retyped, huge, deep, unicode, NUL), raw bytes and content
types, wrong secrets. Never a 5xx, never an error log, and the database stays consistent."""

import urllib.parse

import pytest
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from integrations.models import Alert, AlertGroup, AlertSource, RawPayload
from tests.fuzz import strategies as fz
from tests.fuzz.conftest import assert_ingest_consistent, example_transaction
from tests.integrations import test_adapters as shapes

pytestmark = pytest.mark.django_db
SECRET = "fuzz-hook-secret-" + "k" * 24  # noqa: S105

TEMPLATES = {
    "alertmanager": shapes.alertmanager_body(),
    "alertmanager-resolved": shapes.alertmanager_body("resolved"),
    "grafana": shapes.grafana_body(),
    "datadog": shapes.datadog_body(),
    "datadog-default": shapes.datadog_default_body(),
    "pagerduty": shapes.pagerduty_trigger(),
    "pagerduty-ack": shapes.pagerduty_followup("acknowledge"),
    "sentry": shapes.sentry_issue_alert(),
    "sentry-issue": shapes.sentry_issue(),
    "sentry-metric": shapes.sentry_metric_alert(),
    "splunk": shapes.splunk_body(),
    "generic": shapes.generic_body(),
}


def quote(text: str) -> str:
    """A path segment, lone surrogates included (as a client that sends raw bytes would)."""
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


def make_source(org, kind: str) -> AlertSource:
    with scopes_disabled():
        source = AlertSource(organization=org, name=f"fuzz {kind}", kind=kind)
        source.set_secret(SECRET)
        source.save()
        return source


def counts(org) -> tuple[int, ...]:
    with scopes_disabled():
        return tuple(
            model.objects.filter(organization=org).count()
            for model in (RawPayload, Alert, AlertGroup)
        )


def post(source, body: bytes, *, content_type="application/json", secret=SECRET, path=""):
    headers = {"HTTP_AUTHORIZATION": fz.header(f"Bearer {secret}")} if secret is not None else {}
    return Client().post(
        f"/hooks/{source.public_id}/{path}", data=body, content_type=content_type, **headers
    )


@pytest.fixture
def sources(acme, globex):
    """A source of every kind in acme, and one in globex that must stay untouched."""
    kinds = {name.split("-")[0] for name in TEMPLATES}
    made = {kind: make_source(acme, kind) for kind in kinds}
    made["globex"] = make_source(globex, "alertmanager")
    return made


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_shaped_json_never_fails(template, sources, acme, globex, no_error_logs):
    source = sources[template.split("-")[0]]
    before = counts(globex)

    @fz.fuzz(25)
    @given(body=fz.mutated(TEMPLATES[template]))
    def check(body):
        with example_transaction():
            response = post(source, fz.encode(body))
            assert response.status_code < 500, response.content[:500]
            assert response.status_code in (202, 400, 413), response.content[:500]
            assert_ingest_consistent()
            no_error_logs()

    check()
    assert counts(globex) == before


@pytest.mark.parametrize("kind", ["alertmanager", "generic", "pagerduty"])
def test_raw_bodies_and_content_types_never_fail(kind, sources, globex, no_error_logs):
    source = sources[kind]
    before = counts(globex)

    @fz.fuzz(30)
    @given(body=fz.raw_bodies, content_type=fz.content_types)
    def check(body, content_type):
        with example_transaction():
            response = post(source, body, content_type=content_type)
            assert response.status_code in (202, 400, 413, 415), response.content[:500]
            assert_ingest_consistent()
            no_error_logs()

    check()
    assert counts(globex) == before


def test_wrong_or_missing_secrets_store_nothing(sources, acme, globex):
    source = sources["alertmanager"]
    body = fz.encode(TEMPLATES["alertmanager"])
    before = (counts(acme), counts(globex))

    @fz.fuzz(30)
    @given(
        secret=st.one_of(st.none(), fz.text.filter(lambda s: s.strip() != SECRET)),
        in_path=st.booleans(),
    )
    def check(secret, in_path):
        with example_transaction():
            if in_path and secret:
                path = quote(secret) + "/"
                response = post(source, body, secret=None, path=path)
            else:
                response = post(source, body, secret=secret)
            assert 400 <= response.status_code < 500, response.content[:500]
            assert (counts(acme), counts(globex)) == before

    check()


def test_unknown_source_ids_are_404(sources):
    @fz.fuzz(20)
    @given(public_id=fz.text.filter(lambda s: "/" not in s and s.strip()))
    def check(public_id):
        with example_transaction():
            url = "/hooks/" + quote(public_id) + "/"
            response = Client().post(url, data=b"{}", content_type="application/json")
            assert response.status_code in (400, 404, 405), response.content[:300]

    check()
