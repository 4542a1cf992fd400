"""The 5xx the fuzz tests found, each pinned by the example that found it."""

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.utils.html import escape
from django_scopes import scopes_disabled

from integrations.models import AlertSource, RawPayload
from integrations.pagerduty import services as pd_services
from reporting import exposure
from taxonomy.models import ClassificationRule
from tenancy.scoping import org_scope
from tests import logcanary

pytestmark = pytest.mark.django_db
DEEP = b'{"alerts": [' + b'{"a": [' * 3_000 + b"1" + b"]}" * 3_000 + b"]}"


def test_json_nested_past_the_parsers_depth_is_a_400_not_a_500(acme, acme_admin, manager):
    with scopes_disabled():
        source = AlertSource(organization=acme, name="Prometheus", kind="alertmanager")
        source.set_secret(logcanary.HOOK_SECRET)
        source.save()
    client = Client()
    response = client.post(
        f"/hooks/{source.public_id}/",
        data=DEEP,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {logcanary.HOOK_SECRET}",
    )
    assert response.status_code == 400
    assert response.json() == {"error": "body: nested too deeply"}
    with scopes_disabled():
        assert RawPayload.objects.get().status == "rejected"

    service = pd_services.pagerduty_service_save(
        organization=acme,
        actor=acme_admin,
        name="Payments",
        routing_key=logcanary.PAGERDUTY_ROUTING_KEY,
        webhook_secret=logcanary.PAGERDUTY_WEBHOOK_SECRET,
    )
    signature = hmac.new(logcanary.PAGERDUTY_WEBHOOK_SECRET.encode(), DEEP, hashlib.sha256)
    response = client.post(
        f"/hooks/pagerduty/{service.public_id}/",
        data=DEEP,
        content_type="application/json",
        HTTP_X_PAGERDUTY_SIGNATURE=f"v1={signature.hexdigest()}",
    )
    assert response.status_code == 400

    with org_scope(acme):
        token = exposure.exposure_token_generate(organization=acme, actor=manager)
    response = client.post(
        "/o/acme/reports/exposure/feed/",
        data=DEEP,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    ["/hooks/%00/", "/hooks/ticketing/%00/", "/status/acme/confirm/a%00b/", "/healthz?x=%00"],
)
def test_a_nul_byte_in_the_path_or_query_is_a_400_not_a_500(acme, url):
    response = Client().post(url, data=b"{}", content_type="application/json")
    assert response.status_code == 400
    assert b"NUL" in response.content
    assert response["X-Request-ID"]


@pytest.mark.parametrize(
    "labels",
    ['{"\\ud800": null}', '{"env": "\\ud800"}', '{"env\\u0000": "prod"}', '{"env": "a\\u0000"}'],
)
def test_labels_with_nul_or_lone_surrogates_are_a_form_error_not_a_500(acme, admin, client, labels):
    client.force_login(admin)
    for url in ("/o/acme/settings/taxonomy/rules/new/", "/o/acme/integrations/rules/new/"):
        response = client.post(url, {"name": "Rule", "match_labels": labels})
        assert response.status_code == 200, url
        assert "match_labels" in response.context["form"].errors, url
        assert escape(labels) in response.content.decode(), "the field shows what was typed"
    with scopes_disabled():
        assert not ClassificationRule.objects.exists()


def test_deeply_nested_labels_are_a_form_error(acme, admin, client):
    client.force_login(admin)
    deep = '{"a": ' * 3_000 + "1" + "}" * 3_000
    response = client.post("/o/acme/settings/taxonomy/rules/new/", {"match_labels": deep})
    assert response.status_code == 200
    assert "nested too deeply" in json.dumps(response.context["form"].errors)
