"""PagerDuty as a paging channel, against a local stand-in for the Events API v2 with its real
request and response shapes, and PagerDuty-shaped v3 webhooks signed like PagerDuty signs
them: a step pages once per incident, the resolution resolves it, 5xx/429 are retried and 400
is not, acknowledgements come back through the lifecycle, and nothing crosses organisations."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import services as incident_services
from incidents import sla
from incidents.models import EscalationRun, Incident, TimelineEvent
from integrations.pagerduty import events
from integrations.pagerduty import services as pd_services
from integrations.pagerduty.models import PagerDutyEvent, PagerDutyService
from integrations.pagerduty.webhooks import signature_matches
from taxonomy.models import EscalationPath, EscalationStep
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests import logcanary
from tests.incidents.factories import declare, document, fresh, severity
from tests.integrations.pagerduty_standin import EventsApi

pytestmark = pytest.mark.django_db

ROUTING_KEY = logcanary.PAGERDUTY_ROUTING_KEY
WEBHOOK_SECRET = logcanary.PAGERDUTY_WEBHOOK_SECRET


@pytest.fixture
def api(settings):
    stand_in = EventsApi()
    settings.PAGERDUTY_EVENTS_URL = stand_in.url
    yield stand_in
    stand_in.close()


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Sending is done by `events.send`/`events.sweep` in the test; queueing is recorded."""
    from integrations.pagerduty import tasks

    calls = []
    monkeypatch.setattr(tasks.send_pagerduty_event_task, "delay", lambda *a: calls.append(a))
    return calls


def make_service(org, admin_membership, name="Payments", routing_key=ROUTING_KEY, secret=None):
    return pd_services.pagerduty_service_save(
        organization=org,
        actor=admin_membership,
        name=name,
        routing_key=routing_key,
        webhook_secret=secret or WEBHOOK_SECRET,
    )


def pager_path(org, service, level="SEV-3"):
    """The severity's escalation path: page `service` at once."""
    with scopes_disabled():
        path = EscalationPath.objects.create(
            organization=org, name=f"{level} pager", severity=severity(org, level)
        )
        EscalationStep.objects.create(
            organization=org,
            path=path,
            position=1,
            delay_minutes=0,
            target_kind="pagerduty",
            integration_target=service.public_id,
        )
    return path


@pytest.fixture
def service(acme, acme_admin):
    return make_service(acme, acme_admin)


@pytest.fixture
def paged(acme, responder, service, api, django_capture_on_commit_callbacks):
    """A SEV-3 whose new-incident escalation paged the PagerDuty service (trigger sent)."""
    pager_path(acme, service)
    incident = declare(acme, responder, title="Card payments fail")
    with django_capture_on_commit_callbacks(execute=True):
        sla.sweep_due(now=timezone.now())
    assert events.sweep() == 1
    return fresh(incident)


def pd_events(incident=None):
    with scopes_disabled():
        rows = PagerDutyEvent.objects.all()
        if incident is not None:
            rows = rows.filter(incident=incident)
        return list(rows.order_by("pk"))


def timeline(incident, kind=None):
    with scopes_disabled():
        rows = TimelineEvent.objects.filter(incident=incident)
        if kind:
            rows = rows.filter(kind=kind)
        return [e.message for e in rows.order_by("created_at", "pk")]


# — outbound ——————————————————————————————————————————————————————————————————————————


def test_an_escalation_step_triggers_a_pagerduty_event_keyed_by_the_incident(
    acme, paged, api, queued
):
    (sent,) = api.events()
    assert api.requests[0]["path"] == "/v2/enqueue"
    assert api.requests[0]["headers"]["Content-Type"] == "application/json"
    assert sent["routing_key"] == ROUTING_KEY
    assert sent["event_action"] == "trigger"
    assert sent["dedup_key"] == paged.key
    assert sent["payload"]["summary"] == f"{paged.key} · SEV-3 · Card payments fail"
    assert sent["payload"]["severity"] == "warning"
    assert sent["payload"]["source"] == "vigil:acme"
    assert dt.datetime.fromisoformat(sent["payload"]["timestamp"]) == paged.created_at
    assert sent["payload"]["custom_details"]["incident"] == paged.key
    assert sent["links"][0]["href"].endswith(f"/o/acme/incidents/{paged.key}/")
    (event,) = pd_events(paged)
    assert (event.status, event.attempts, event.action) == ("sent", 1, "trigger")
    assert json.loads(event.response.split(" ", 2)[2]) == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": paged.key,
    }
    assert ROUTING_KEY not in json.dumps(event.payload)  # the key is not stored with the event
    assert queued == [(acme.pk, event.pk)]
    assert any("paged PagerDuty service Payments" in m for m in timeline(paged, "escalation"))
    assert api.pages == 1


@pytest.mark.parametrize(
    ("level", "expected"), [("SEV-1", "critical"), ("SEV-2", "error"), ("SEV-4", "info")]
)
def test_vigil_severities_map_to_pagerduty_severities(acme, responder, service, level, expected):
    incident = declare(acme, responder, severity=severity(acme, level), commander=responder)
    with org_scope(acme):
        assert events.trigger_payload(incident)["payload"]["severity"] == expected


def test_the_summary_is_masked_and_a_restricted_incident_shows_no_title(acme, responder, service):
    incident = declare(acme, responder, title="Refund for jane.doe@example.com failed")
    with org_scope(acme):
        summary = events.summary_for(incident)
        assert "jane.doe@example.com" not in summary
        assert "[e-mail hidden]" in summary
        incident.is_restricted = True
        assert events.summary_for(incident) == f"{incident.key} · SEV-3 · restricted incident"


def test_a_repeated_escalation_does_not_page_twice(acme, paged, api):
    with org_scope(acme):
        # A breach walks the path again: the same service is asked to page the same incident.
        assert sla.schedule_escalation(paged, trigger="breach:0", start=timezone.now()) == 1
    sla.sweep_due(now=timezone.now())
    assert events.sweep() == 0
    assert len(api.requests) == 1
    assert len(pd_events(paged)) == 1
    assert any("already paged" in m for m in timeline(paged, "escalation"))
    with scopes_disabled():
        assert EscalationRun.objects.filter(incident=paged, fired_at__isnull=False).count() == 2


def test_resolving_the_incident_resolves_the_pagerduty_alert(acme, paged, responder, api):
    with org_scope(acme):
        incident_services.incident_transition(
            incident=paged, name="start_investigation", actor=responder
        )
    document(paged, responder)
    with org_scope(acme):
        incident_services.incident_transition(
            incident=fresh(paged), name="resolve", actor=responder
        )
    assert events.sweep() == 1
    trigger, resolve = api.events()
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": paged.key,
    }
    assert api.open == set()
    assert [e.status for e in pd_events(paged)] == ["sent", "sent"]
    assert api.pages == 1


def test_an_incident_never_paged_sends_no_resolve(acme, responder, service, api):
    incident = declare(acme, responder)
    with org_scope(acme):
        incident_services.incident_transition(
            incident=incident, name="dismiss", actor=responder, note="false positive"
        )
    assert pd_events(incident) == []
    assert api.requests == []


def test_a_5xx_is_retried_with_backoff_and_pages_exactly_once(acme, responder, service, api):
    pager_path(acme, service)
    api.script = [500, 503]
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    now = timezone.now()
    events.sweep(now=now)
    (event,) = pd_events(incident)
    assert (event.status, event.attempts) == ("pending", 1)
    assert event.last_error.startswith("HTTP 500")
    assert event.next_attempt_at == now + dt.timedelta(seconds=30)
    assert events.sweep(now=now + dt.timedelta(seconds=10)) == 0  # not due yet: nothing sent
    assert len(api.requests) == 1
    events.sweep(now=now + dt.timedelta(seconds=31))
    events.sweep(now=now + dt.timedelta(minutes=10))
    (event,) = pd_events(incident)
    assert (event.status, event.attempts, event.last_error) == ("sent", 3, "")
    assert len(api.requests) == 3
    assert {e["dedup_key"] for e in api.events()} == {incident.key}
    assert api.pages == 1


def test_a_429_is_retried(acme, responder, service, api):
    pager_path(acme, service)
    api.script = [429]
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    events.sweep()
    assert pd_events(incident)[0].status == "pending"
    events.sweep(now=timezone.now() + dt.timedelta(minutes=1))
    assert pd_events(incident)[0].status == "sent"
    assert api.pages == 1


def test_a_400_is_not_retried_and_the_failure_is_on_the_timeline(acme, acme_admin, responder, api):
    # A routing key PagerDuty refuses (an env reference to a 31-character value).
    bad = make_service(
        acme, acme_admin, name="Broken", routing_key="env:VIGIL_PAGERDUTY_TEST_BAD_KEY"
    )
    pager_path(acme, bad)
    import os

    os.environ["VIGIL_PAGERDUTY_TEST_BAD_KEY"] = ROUTING_KEY[:31]
    try:
        incident = declare(acme, responder)
        sla.sweep_due(now=timezone.now())
        events.sweep()
        events.sweep(now=timezone.now() + dt.timedelta(hours=2))
    finally:
        del os.environ["VIGIL_PAGERDUTY_TEST_BAD_KEY"]
    (event,) = pd_events(incident)
    assert (event.status, event.attempts) == ("failed", 1)
    assert "HTTP 400" in event.last_error
    assert "routing_key" in event.last_error
    assert len(api.requests) == 1
    assert any("PagerDuty trigger for Broken failed" in m for m in timeline(incident))


def test_an_unreachable_pagerduty_is_retried(acme, responder, service, settings):
    settings.PAGERDUTY_EVENTS_URL = "http://127.0.0.1:9"  # discard port: connection refused
    pager_path(acme, service)
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    events.sweep()
    (event,) = pd_events(incident)
    assert (event.status, event.attempts) == ("pending", 1)
    assert event.last_error


def test_an_env_reference_is_read_when_sending(acme, acme_admin, responder, api, monkeypatch):
    monkeypatch.setenv("VIGIL_PAGERDUTY_PAYMENTS_KEY", ROUTING_KEY)
    svc = make_service(
        acme, acme_admin, name="From env", routing_key="env:VIGIL_PAGERDUTY_PAYMENTS_KEY"
    )
    with scopes_disabled():
        assert (
            PagerDutyService.objects.get(pk=svc.pk).routing_key
            == "env:VIGIL_PAGERDUTY_PAYMENTS_KEY"
        )
    pager_path(acme, svc)
    declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    events.sweep()
    assert api.events()[0]["routing_key"] == ROUTING_KEY


def test_a_disabled_service_is_not_paged(acme, acme_admin, responder, service, api):
    pager_path(acme, service)
    pd_services.pagerduty_service_save(
        organization=acme, actor=acme_admin, service=service, name="Payments", is_enabled=False
    )
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    events.sweep()
    assert pd_events(incident) == []
    assert any("disabled: not paged" in m for m in timeline(incident, "escalation"))


# — configuration ——————————————————————————————————————————————————————————————————————


def test_secrets_are_stored_sealed_and_never_rendered(acme, acme_admin, login, service):
    with scopes_disabled():
        stored = PagerDutyService.objects.get(pk=service.pk)
    assert stored.routing_key.startswith("fernet:")
    assert ROUTING_KEY not in stored.routing_key
    assert WEBHOOK_SECRET not in stored.webhook_secret
    client = login(acme_admin.user)
    for url in ("/o/acme/integrations/pagerduty/", f"/o/acme/integrations/pagerduty/{service.pk}/"):
        page = client.get(url).content.decode()
        assert ROUTING_KEY not in page
        assert WEBHOOK_SECRET not in page
        assert stored.routing_key not in page
        assert f"/hooks/pagerduty/{service.public_id}/" in page


def test_an_admin_adds_a_service_through_the_page(acme, acme_admin, login):
    response = login(acme_admin.user).post(
        "/o/acme/integrations/pagerduty/new/",
        {
            "name": "Checkout",
            "routing_key": ROUTING_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "is_enabled": "on",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        svc = PagerDutyService.objects.get(organization=acme, name="Checkout")
    from integrations.pagerduty.secrets import reveal

    assert reveal(svc.routing_key) == ROUTING_KEY
    assert reveal(svc.webhook_secret) == WEBHOOK_SECRET


@pytest.mark.parametrize(
    ("routing_key", "secret", "field"),
    [
        (ROUTING_KEY[:31], WEBHOOK_SECRET, "routing_key"),
        (ROUTING_KEY + "0", WEBHOOK_SECRET, "routing_key"),
        ("e93facc04764012d7bfb002500d5d1a!", WEBHOOK_SECRET, "routing_key"),
        ("env:lower_case", WEBHOOK_SECRET, "routing_key"),
        ("env:SECRET_KEY", WEBHOOK_SECRET, "routing_key"),
        ("env:DATABASE_URL", WEBHOOK_SECRET, "routing_key"),
        (ROUTING_KEY, "env:SECRET_KEY", "webhook_secret"),
        (ROUTING_KEY, "env:PATH_TO_ANYTHING", "webhook_secret"),
        ("", WEBHOOK_SECRET, "routing_key"),
        (ROUTING_KEY, "short", "webhook_secret"),
        (ROUTING_KEY, "", "webhook_secret"),
    ],
)
def test_a_bad_key_or_secret_is_refused_and_nothing_is_saved(
    acme, acme_admin, login, routing_key, secret, field
):
    response = login(acme_admin.user).post(
        "/o/acme/integrations/pagerduty/new/",
        {"name": "Checkout", "routing_key": routing_key, "webhook_secret": secret},
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    with scopes_disabled():
        assert not PagerDutyService.objects.filter(organization=acme).exists()


def test_editing_with_empty_secrets_keeps_the_stored_ones(acme, acme_admin, login, service):
    with scopes_disabled():
        before = PagerDutyService.objects.get(pk=service.pk)
    response = login(acme_admin.user).post(
        f"/o/acme/integrations/pagerduty/{service.pk}/", {"name": "Payments EU", "is_enabled": "on"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        after = PagerDutyService.objects.get(pk=service.pk)
    assert after.name == "Payments EU"
    assert (after.routing_key, after.webhook_secret) == (before.routing_key, before.webhook_secret)


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.MANAGER, Role.VIEWER, Role.COMPLIANCE])
def test_roles_without_manage_integrations_are_refused_and_nothing_changes(
    acme, make_member, login, service, role
):
    client = login(make_member(acme, role).user)
    assert client.get("/o/acme/integrations/pagerduty/").status_code == 403
    response = client.post(
        "/o/acme/integrations/pagerduty/new/",
        {"name": "Sneaky", "routing_key": ROUTING_KEY, "webhook_secret": WEBHOOK_SECRET},
    )
    assert response.status_code == 403
    response = client.post(f"/o/acme/integrations/pagerduty/{service.pk}/delete/")
    assert response.status_code == 403
    with scopes_disabled():
        assert list(PagerDutyService.objects.values_list("name", flat=True)) == ["Payments"]


def test_another_organisation_gets_404_and_nothing_changes(
    acme, globex, globex_admin, login, service
):
    client = login(globex_admin.user)
    assert client.get("/o/acme/integrations/pagerduty/").status_code == 404
    assert client.get(f"/o/globex/integrations/pagerduty/{service.pk}/").status_code == 404
    response = client.post(
        f"/o/globex/integrations/pagerduty/{service.pk}/", {"name": "Mine now", "is_enabled": "on"}
    )
    assert response.status_code == 404
    assert client.post(f"/o/globex/integrations/pagerduty/{service.pk}/delete/").status_code == 404
    assert "Payments" not in client.get("/o/globex/integrations/pagerduty/").content.decode()
    with scopes_disabled():
        assert PagerDutyService.objects.get(pk=service.pk).name == "Payments"


def test_the_service_edit_is_audited_with_the_secrets_masked(acme, acme_admin, service):
    from django.contrib.contenttypes.models import ContentType

    from tenancy.models import AuditEntry

    with scopes_disabled():
        entries = list(
            AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(PagerDutyService),
                object_pk=str(service.pk),
            )
        )
    assert len(entries) == 1
    text = json.dumps(entries[0].changes)
    assert ROUTING_KEY not in text
    assert WEBHOOK_SECRET not in text
    assert "routing_key" in text


def test_a_service_an_escalation_step_pages_cannot_be_deleted(acme, acme_admin, login, service):
    pager_path(acme, service)
    login(acme_admin.user).post(f"/o/acme/integrations/pagerduty/{service.pk}/delete/")
    with scopes_disabled():
        assert PagerDutyService.objects.filter(pk=service.pk).exists()


def test_the_step_form_offers_pagerduty_services_of_this_organisation_only(
    acme, globex, acme_admin, globex_admin, login, service
):
    theirs = make_service(globex, globex_admin, name="Globex grid")
    with scopes_disabled():
        path = EscalationPath.objects.create(
            organization=acme, name="SEV-2 pager", severity=severity(acme, "SEV-2")
        )
    client = login(acme_admin.user)
    page = client.get(f"/o/acme/settings/taxonomy/escalation/{path.pk}/").content.decode()
    assert "Payments" in page
    assert "Globex grid" not in page
    url = f"/o/acme/settings/taxonomy/escalation/{path.pk}/steps/"
    refused = client.post(
        url,
        {"delay_minutes": 0, "target_kind": "pagerduty", "integration_target": theirs.public_id},
    )
    assert refused.status_code == 200
    missing = client.post(url, {"delay_minutes": 0, "target_kind": "pagerduty"})
    assert missing.status_code == 200
    with scopes_disabled():
        assert not EscalationStep.objects.filter(path=path).exists()
    added = client.post(
        url,
        {"delay_minutes": 5, "target_kind": "pagerduty", "integration_target": service.public_id},
    )
    assert added.status_code == 302
    with scopes_disabled():
        step = EscalationStep.objects.get(path=path)
    assert (step.target_kind, step.integration_target) == ("pagerduty", service.public_id)
    assert step.target_label == "PagerDuty service Payments"


# — inbound ———————————————————————————————————————————————————————————————————————————


def v3_event(incident_key, event_type="incident.acknowledged", agent="John Doe"):
    """A PagerDuty v3 webhook body, as PagerDuty sends it."""
    return {
        "event": {
            "id": "01DRF6BV78DEFGHIJK56789",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-27T10:31:30.123Z",
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/P123ABC",
                "id": "P123ABC",
                "self": "https://api.pagerduty.com/users/P123ABC",
                "summary": agent,
                "type": "user_reference",
            },
            "client": None,
            "data": {
                "id": "Q2KURS8RXYZ123",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/Q2KURS8RXYZ123",
                "html_url": "https://acme.pagerduty.com/incidents/Q2KURS8RXYZ123",
                "number": 42,
                "status": event_type.removeprefix("incident."),
                "incident_key": incident_key,
                "title": "ACME-1 · SEV-3 · Card payments fail",
                "service": {"id": "PSERVICE1", "type": "service_reference", "summary": "Payments"},
            },
        }
    }


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, service, document, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(document).encode()
    headers = {}
    signature = sign(body) if signature is None else signature
    if signature:
        headers["HTTP_X_PAGERDUTY_SIGNATURE"] = signature
    return client.post(
        f"/hooks/pagerduty/{service.public_id}/",
        data=body,
        content_type="application/json",
        **headers,
    )


def test_signature_matching_follows_pagerduty():
    body = b'{"event": {}}'
    good = sign(body)
    assert signature_matches(WEBHOOK_SECRET, body, good)
    assert signature_matches(WEBHOOK_SECRET, body, f"v1={'0' * 64},{good}")
    assert signature_matches(WEBHOOK_SECRET, body, f"{good.upper().replace('V1', 'v1')}")
    assert not signature_matches(WEBHOOK_SECRET, body, good.replace("v1=", "v0="))
    assert not signature_matches(WEBHOOK_SECRET, body + b" ", good)
    assert not signature_matches(WEBHOOK_SECRET, body, "")
    assert not signature_matches("", body, good)


def test_an_acknowledgement_in_pagerduty_acknowledges_the_incident(client, paged):
    response = deliver(
        client, PagerDutyService.objects.with_scopes_disabled().get(), v3_event(paged.key)
    )
    assert response.status_code == 200
    assert response.json() == {"result": "acknowledged", "incident": paged.key}
    incident = fresh(paged)
    assert incident.status == "investigating"
    assert incident.acknowledged_at is not None
    with scopes_disabled():
        entry = TimelineEvent.objects.filter(incident=paged, kind="status").latest("created_at")
    assert entry.actor is None  # Vigil itself, on PagerDuty's word
    assert "acknowledged in PagerDuty by John Doe (Payments)" in entry.message


def test_a_rotated_secret_list_is_accepted(client, paged, service):
    body = json.dumps(v3_event(paged.key)).encode()
    old = sign(body, "the-old-secret-being-rotated")
    response = deliver(client, service, None, signature=f"{old},{sign(body)}", raw=body)
    assert response.status_code == 200
    assert fresh(paged).status == "investigating"


@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "v1=" + "0" * 64,  # wrong
        "v1=not-hex",
        "sha256=deadbeef",
    ],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_changes(
    client, paged, service, signature
):
    body = json.dumps(v3_event(paged.key)).encode()
    response = client.post(
        f"/hooks/pagerduty/{service.public_id}/",
        data=body,
        content_type="application/json",
        **({"HTTP_X_PAGERDUTY_SIGNATURE": signature} if signature else {}),
    )
    assert response.status_code == 401
    assert fresh(paged).status == "reported"


def test_signed_with_another_secret_is_refused(client, paged, service):
    body = json.dumps(v3_event(paged.key)).encode()
    response = deliver(
        client, service, None, signature=sign(body, "someone-elses-secret"), raw=body
    )
    assert response.status_code == 401
    assert fresh(paged).status == "reported"


def test_an_incident_already_acknowledged_is_a_no_op(client, paged, service, responder):
    with org_scope(paged.organization_id):
        incident_services.incident_transition(
            incident=paged, name="start_investigation", actor=responder
        )
    before = timeline(paged)
    response = deliver(client, service, v3_event(paged.key))
    assert response.status_code == 200
    assert response.json()["result"] == "already acknowledged"
    assert timeline(paged) == before


def test_an_unknown_incident_key_is_ignored(client, paged, service):
    response = deliver(client, service, v3_event("ACME-999"))
    assert response.status_code == 202
    assert response.json()["result"] == "ignored"
    no_key = v3_event(paged.key)
    del no_key["event"]["data"]["incident_key"]
    assert deliver(client, service, no_key).status_code == 202
    assert fresh(paged).status == "reported"


def test_an_incident_this_service_never_paged_is_not_touched(
    acme, client, paged, service, responder
):
    other = declare(acme, responder, title="Not paged")
    with scopes_disabled():
        PagerDutyEvent.objects.filter(incident=other).delete()
    response = deliver(client, service, v3_event(other.key))
    assert response.status_code == 202
    assert fresh(other).status == "reported"


def test_other_event_types_are_ignored(client, paged, service):
    for event_type in ("incident.triggered", "incident.unacknowledged", "pagey.ping"):
        response = deliver(client, service, v3_event(paged.key, event_type=event_type))
        assert response.status_code == 202
        assert response.json() == {"result": "ignored", "event_type": event_type}
    assert fresh(paged).status == "reported"


def test_a_resolution_in_pagerduty_is_noted_once_not_applied(client, paged, service):
    document = v3_event(paged.key, "incident.resolved", agent="Ann Ops")
    assert deliver(client, service, document).status_code == 200
    assert deliver(client, service, document).status_code == 200  # PagerDuty redelivers
    assert fresh(paged).status == "reported"
    notes = [m for m in timeline(paged, "escalation") if m == "Resolved in PagerDuty by Ann Ops"]
    assert len(notes) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"event": "x"}',
        b'{"no_event": {}}',
        b'{"event": {"event_type": 5}}',
        b'{"event": {"event_type": "incident.acknowledged", "data": []}}',
        b"\xff\xfe",
    ],
)
def test_a_malformed_body_is_refused_with_400(client, paged, service, raw):
    response = deliver(client, service, None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]
    assert fresh(paged).status == "reported"


def test_a_too_large_body_is_refused_with_413(client, paged, service):
    document = v3_event(paged.key)
    document["event"]["data"]["padding"] = "x" * (300 * 1024)
    response = deliver(client, service, document)
    assert response.status_code == 413
    assert fresh(paged).status == "reported"


def test_an_unknown_or_disabled_hook_is_404(acme, acme_admin, client, paged, service):
    body = json.dumps(v3_event(paged.key)).encode()
    response = client.post(
        "/hooks/pagerduty/nope/",
        data=body,
        content_type="application/json",
        HTTP_X_PAGERDUTY_SIGNATURE=sign(body),
    )
    assert response.status_code == 404
    pd_services.pagerduty_service_save(
        organization=acme, actor=acme_admin, service=service, name="Payments", is_enabled=False
    )
    assert deliver(client, service, v3_event(paged.key)).status_code == 404
    assert fresh(paged).status == "reported"


def test_another_organisations_hook_never_touches_this_organisations_incident(
    globex, globex_admin, client, paged
):
    theirs = make_service(globex, globex_admin, name="Globex grid", secret="globex-signing-secret")
    body = json.dumps(v3_event(paged.key)).encode()
    response = deliver(
        client, theirs, None, signature=sign(body, "globex-signing-secret"), raw=body
    )
    assert response.status_code == 202
    assert response.json()["result"] == "ignored"
    assert fresh(paged).status == "reported"
    assert not any("PagerDuty by" in m for m in timeline(paged))


def test_a_major_incident_without_a_commander_is_not_acknowledged_and_says_why(
    acme, responder, service, api, client
):
    """The lifecycle asks a SEV-1/SEV-2 for a commander before investigating; PagerDuty cannot
    name one, so the acknowledgement is recorded on the timeline and the status stays."""
    pager_path(acme, service, level="SEV-2")
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"))
    sla.sweep_due(now=timezone.now())
    events.sweep()
    assert api.events()[0]["payload"]["severity"] == "error"
    response = deliver(client, service, v3_event(incident.key))
    assert response.status_code == 202
    body = response.json()
    assert body["result"] == "not acknowledged"
    assert any("commander" in m for m in body["missing"])
    assert fresh(incident).status == "reported"
    assert fresh(incident).acknowledged_at is None
    assert any(
        "Acknowledged in PagerDuty by John Doe (Payments), but not acknowledged in Vigil" in m
        for m in timeline(incident, "escalation")
    )


def test_acknowledging_stops_the_rest_of_the_walk(acme, responder, service, api, client):
    pager_path(acme, service)
    with scopes_disabled():
        path = EscalationPath.objects.get(organization=acme, name="SEV-3 pager")
        EscalationStep.objects.create(
            organization=acme,
            path=path,
            position=2,
            delay_minutes=30,
            target_kind="user",
            user=responder,
        )
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    deliver(client, PagerDutyService.objects.with_scopes_disabled().get(), v3_event(incident.key))
    with scopes_disabled():
        later = EscalationRun.objects.get(incident=incident, step__position=2)
    assert later.cancelled_at is not None
    assert Incident.objects.with_scopes_disabled().get(pk=incident.pk).status == "investigating"


def test_an_unset_environment_variable_is_retried_not_sent(acme, acme_admin, responder, api):
    svc = make_service(
        acme, acme_admin, name="Unset", routing_key="env:VIGIL_PAGERDUTY_TEST_NEVER_SET"
    )
    pager_path(acme, svc)
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    events.sweep()
    (event,) = pd_events(incident)
    assert event.status == "pending"
    assert "no set environment variable named VIGIL_PAGERDUTY_" in event.last_error
    assert api.requests == []


def test_a_resolve_waits_for_its_trigger(acme, responder, service, api):
    pager_path(acme, service)
    api.script = [500]
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    now = timezone.now()
    events.sweep(now=now)  # the trigger fails once: pending, retried in 30 s
    with org_scope(acme):
        incident_services.incident_transition(
            incident=fresh(incident), name="dismiss", actor=responder, note="false positive"
        )
    events.sweep(now=timezone.now())  # the resolve is not sent before its trigger
    trigger, resolve = pd_events(incident)
    assert (trigger.status, resolve.status) == ("pending", "pending")
    assert "waiting for the trigger" in resolve.last_error
    events.sweep(now=now + dt.timedelta(minutes=1))
    events.sweep(now=now + dt.timedelta(minutes=5))
    assert [e["event_action"] for e in api.events()[1:]] == ["trigger", "resolve"]
    assert [e.status for e in pd_events(incident)] == ["sent", "sent"]
    assert api.open == set()


def test_a_stored_disallowed_environment_reference_is_never_read(
    acme, acme_admin, responder, api, monkeypatch
):
    """Review finding 1: only VIGIL_PAGERDUTY_* variables are read, checked again at use; the
    error does not tell a set variable from an unset one."""
    from integrations.pagerduty.secrets import SecretUnavailable, describe, reveal

    monkeypatch.setenv("VIGIL_SET_ELSEWHERE", ROUTING_KEY)
    monkeypatch.delenv("VIGIL_UNSET_ELSEWHERE", raising=False)
    words = set()
    for name in ("SECRET_KEY", "VIGIL_SET_ELSEWHERE", "VIGIL_UNSET_ELSEWHERE"):
        with pytest.raises(SecretUnavailable) as raised:
            reveal(f"env:{name}")
        words.add(str(raised.value))
    assert len(words) == 1
    assert "VIGIL_PAGERDUTY_" in words.pop()

    svc = make_service(acme, acme_admin, name="Tampered")
    with scopes_disabled():
        PagerDutyService.objects.filter(pk=svc.pk).update(routing_key="env:VIGIL_SET_ELSEWHERE")
    assert describe("env:VIGIL_SET_ELSEWHERE") == (
        "from an environment variable that is not read (use env:VIGIL_PAGERDUTY_NAME)"
    )
    pager_path(acme, svc)
    incident = declare(acme, responder)
    sla.sweep_due(now=timezone.now())
    events.sweep()
    (event,) = pd_events(incident)
    assert event.status == "pending"
    assert "VIGIL_SET_ELSEWHERE" not in event.last_error
    assert api.requests == []
