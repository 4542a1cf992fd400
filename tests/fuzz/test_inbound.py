"""The other unauthenticated inbound endpoints fed arbitrary input: the PagerDuty v3 webhook
(signed), the ticketing webhook (Jira/ServiceNow), the exposure feed (token) and the public
status page's subscribe/confirm/unsubscribe. Never a 5xx; nothing written for another
organisation; nothing written at all without the right credentials."""

import hashlib
import hmac
import json
import urllib.parse

import pytest
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from incidents.models import Incident, TimelineEvent
from incidents.statuspage.models import StatusPageSettings, Subscriber
from integrations.pagerduty import services as pd_services
from integrations.pagerduty.models import PagerDutyEvent
from integrations.ticketing.models import TicketComment, TicketIntegration, TicketLink
from reporting import exposure
from reporting.models import ExposureFigure
from tenancy.scoping import org_scope
from tests.fuzz import strategies as fz
from tests.fuzz.conftest import example_transaction
from tests.incidents.factories import declare
from tests.ticketing.test_webhook import jira_comment

pytestmark = pytest.mark.django_db
PD_SECRET = "pd-whsec-fuzz-Qw8n2Lp0Xc7Vb"  # noqa: S105


def timeline_rows(org) -> int:
    with scopes_disabled():
        return TimelineEvent.objects.filter(organization=org).count()


def quote(text: str) -> str:
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


# — PagerDuty v3 webhook ————————————————————————————————————————————————————————————————


@pytest.fixture
def paged(acme, acme_admin, responder, globex):
    """A PagerDuty service of acme and an incident it was paged for (dedup key = its key)."""
    service = pd_services.pagerduty_service_save(
        organization=acme,
        actor=acme_admin,
        name="Payments",
        routing_key="e93facc04764012d7bfb002500d5d1a6",
        webhook_secret=PD_SECRET,
    )
    incident = declare(acme, responder)
    with scopes_disabled():
        PagerDutyEvent.objects.create(
            organization=acme,
            service=service,
            incident=incident,
            action=PagerDutyEvent.Action.TRIGGER,
            idempotency_key=f"fuzz:{incident.pk}",
            dedup_key=incident.key,
        )
    return service, incident


def pd_template(incident) -> dict:
    return {
        "event": {
            "id": "01DEN4HPBQAJ6H7JYYC2VMCMXL",
            "event_type": "incident.acknowledged",
            "resource_type": "incident",
            "occurred_at": "2026-11-27T10:00:00.000Z",
            "agent": {"id": "PLH1HKV", "summary": "Tenex Engineer", "type": "user_reference"},
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "incident_key": incident.key,
                "status": "acknowledged",
                "title": "Checkout fails",
            },
        }
    }


def pd_post(service, body: bytes, *, secret=PD_SECRET, content_type="application/json"):
    signature = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(
        f"/hooks/pagerduty/{service.public_id}/",
        data=body,
        content_type=content_type,
        HTTP_X_PAGERDUTY_SIGNATURE=signature,
    )


def test_pagerduty_webhook_never_fails(paged, globex, no_error_logs):
    service, incident = paged
    before = timeline_rows(globex)
    event_types = st.sampled_from(
        ["incident.acknowledged", "incident.resolved", "incident.triggered", "pagey.ping"]
    )

    @fz.fuzz(40)
    @given(
        body=st.one_of(
            fz.mutated(pd_template(incident)).map(fz.encode),
            st.builds(
                lambda kind, body: (
                    fz.encode({**body, "event": {**body["event"], "event_type": kind}})
                    if isinstance(body.get("event"), dict)
                    else fz.encode(body)
                ),
                event_types,
                fz.mutated(pd_template(incident)),
            ),
            fz.raw_bodies,
        )
    )
    def check(body):
        with example_transaction():
            response = pd_post(service, body)
            assert response.status_code in (200, 202, 400, 413), response.content[:500]
            no_error_logs()

    check()
    assert timeline_rows(globex) == before


def test_pagerduty_webhook_with_a_wrong_signature_changes_nothing(paged, acme):
    service, incident = paged
    body = fz.encode(pd_template(incident))
    before = timeline_rows(acme)

    @fz.fuzz(20)
    @given(secret=fz.text.filter(lambda s: s != PD_SECRET and "\ud800" not in s))
    def check(secret):
        with example_transaction():
            assert pd_post(service, body, secret=secret).status_code == 401
            assert timeline_rows(acme) == before

    check()


# — ticketing webhook ———————————————————————————————————————————————————————————————————


@pytest.fixture
def ticketing(acme, acme_admin, responder):
    """A Jira integration of acme (its tracker is never called) and an incident linked to
    OPS-1."""
    from integrations.ticketing import services

    incident = declare(acme, responder)  # before the integration: nothing to mirror
    integration, secret = services.integration_create(
        organization=acme,
        actor=acme_admin,
        name="Ops Jira",
        kind=TicketIntegration.Kind.JIRA,
        base_url="http://127.0.0.1:9",
        auth_scheme=TicketIntegration.AuthScheme.BASIC,
        username="bot@acme.test",
        credential="jira-api-token-fuzz",
        project_key="OPS",
        issue_type="Task",
        resolve_transition="Done",
        close_transition="",
        mirror=TicketIntegration.Mirror.ALL,
    )
    with scopes_disabled():
        TicketLink.objects.create(
            organization=acme,
            integration=integration,
            incident=incident,
            ticket_key="OPS-1",
            ticket_id="10001",
            url="http://127.0.0.1:9/browse/OPS-1",
        )
    return integration, secret, incident


def test_ticketing_webhook_never_fails(ticketing, globex, no_error_logs):
    integration, secret, incident = ticketing
    before = timeline_rows(globex)
    template = jira_comment()
    issue_updated = {**jira_comment(), "webhookEvent": "jira:issue_updated"}

    @fz.fuzz(40)
    @given(
        body=st.one_of(
            fz.mutated(template).map(fz.encode),
            fz.mutated(issue_updated).map(fz.encode),
            fz.raw_bodies,
        ),
        content_type=st.sampled_from(["application/json", "application/json", "text/plain"]),
    )
    def check(body, content_type):
        with example_transaction():
            response = Client().post(
                f"/hooks/ticketing/{integration.public_id}/",
                data=body,
                content_type=content_type,
                HTTP_AUTHORIZATION=f"Bearer {secret}",
            )
            assert response.status_code < 500, response.content[:500]
            no_error_logs()

    check()
    assert timeline_rows(globex) == before


def test_ticketing_webhook_with_a_wrong_secret_changes_nothing(ticketing, acme):
    integration, secret, incident = ticketing
    body = json.dumps(jira_comment())
    with scopes_disabled():
        before = (timeline_rows(acme), TicketComment.objects.count())

    @fz.fuzz(20)
    @given(wrong=fz.text.filter(lambda s: s != secret), in_query=st.booleans())
    def check(wrong, in_query):
        with example_transaction():
            url = f"/hooks/ticketing/{integration.public_id}/"
            headers = {}
            if in_query:
                url += "?secret=" + quote(wrong)
            else:
                headers["HTTP_AUTHORIZATION"] = fz.header(f"Bearer {wrong}")
            response = Client().post(url, data=body, content_type="application/json", **headers)
            assert 400 <= response.status_code < 500, response.content[:300]
            with scopes_disabled():
                assert (timeline_rows(acme), TicketComment.objects.count()) == before

    check()


# — exposure feed ———————————————————————————————————————————————————————————————————————


def test_exposure_feed_never_fails(acme, manager, globex, no_error_logs):
    with org_scope(acme):
        token = exposure.exposure_token_generate(organization=acme, actor=manager)
    with scopes_disabled():
        before = ExposureFigure.objects.filter(organization=globex).count()
    figure = {"week": "2026-11-23", "value": 12.5, "unit": "transactions", "service": "Payments"}

    @fz.fuzz(40)
    @given(
        body=st.one_of(
            fz.mutated(figure).map(fz.encode),
            fz.mutated([figure, figure]).map(fz.encode),
            fz.raw_bodies,
        ),
        good_token=st.booleans(),
    )
    def check(body, good_token):
        with example_transaction():
            response = Client().post(
                "/o/acme/reports/exposure/feed/",
                data=body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token if good_token else token[:-2] + 'zz'}",
            )
            assert response.status_code < 500, response.content[:500]
            if not good_token:
                assert response.status_code == 401
            no_error_logs()

    check()
    with scopes_disabled():
        assert ExposureFigure.objects.filter(organization=globex).count() == before


# — public status page ——————————————————————————————————————————————————————————————————


def test_status_page_subscription_never_fails(acme, globex, no_error_logs):
    StatusPageSettings.objects.create(organization=acme, is_public=True, title="Acme status")
    client = Client()

    @fz.fuzz(40)
    @given(
        email=st.one_of(st.emails(), fz.text),
        website=st.one_of(st.just(""), fz.text),
        token=fz.text.filter(lambda s: s.strip() and "/" not in s),
        action=st.sampled_from(["subscribe", "confirm", "unsubscribe"]),
        method=st.sampled_from(["get", "post"]),
    )
    def check(email, website, token, action, method):
        with example_transaction():
            if action == "subscribe":
                data = fz.form_body({"email": email, "website": website})
                response = client.post("/status/acme/subscribe/", data, content_type=fz.FORM)
            else:
                url = f"/status/acme/{action}/{quote(token)}/"
                response = getattr(client, method)(url)
            assert response.status_code < 500, response.content[:500]
            with scopes_disabled():
                assert not Subscriber.objects.filter(organization=globex).exists()
                assert not Incident.objects.filter(organization=globex).exists()
            no_error_logs()

    check()
