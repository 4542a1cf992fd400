"""Inbound: `POST /hooks/pagerduty/<public id>/`, where a PagerDuty v3 webhook subscription
reports what happened to the incidents Vigil paged.

The raw body's HMAC-SHA256 with the service's signing secret must match one of the `v1=`
signatures in `X-PagerDuty-Signature` (several during a secret rotation), compared in constant
time. `incident.acknowledged` acknowledges the Vigil incident whose key is the PagerDuty
incident's `incident_key` (the dedup_key Vigil sent) — through the lifecycle service, as Vigil
itself, with the PagerDuty user named on the timeline. Only incidents this service was paged
for, in this service's organisation, are ever looked at. `incident.resolved` is noted on the
timeline (resolving in Vigil needs what the lifecycle asks for). Anything else: 202 ignored."""

import hashlib
import hmac
import json
import logging

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scopes_disabled

from incidents import services as incident_services
from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from integrations.pagerduty.models import PagerDutyEvent, PagerDutyService
from integrations.pagerduty.secrets import SecretUnavailable, reveal
from tenancy.audit import audit_context
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
SIGNATURE_HEADER = "HTTP_X_PAGERDUTY_SIGNATURE"


class WebhookError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether any `v1=<hex>` signature in `header` is the body's HMAC-SHA256 with `secret`.
    Every candidate is compared (constant time each), so timing says nothing about which."""
    if not secret or not header:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    matched = False
    for part in header.split(","):
        version, _, value = part.strip().partition("=")
        if version == "v1" and value:
            matched |= hmac.compare_digest(expected.encode(), value.strip().lower().encode())
    return matched


def _read_body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise WebhookError(413, f"Body larger than {MAX_BODY_BYTES} bytes.")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError(413, f"Body larger than {MAX_BODY_BYTES} bytes.")
    return body


def _service(public_id: str) -> PagerDutyService:
    with scopes_disabled():  # the hook id is the only thing that names the organisation
        service = PagerDutyService.objects.filter(public_id=public_id, is_enabled=True).first()
    if service is None:
        raise WebhookError(404, "Unknown PagerDuty hook.")
    return service


def _parse(body: bytes) -> tuple[str, dict, str, str]:
    """(event type, the incident data, who did it, PagerDuty's id of this event)."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookError(400, f"Body is not JSON: {error}") from None
    except RecursionError:
        raise WebhookError(400, "Body is nested too deeply.") from None
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise WebhookError(400, 'Expected a JSON object with an "event" object.')
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookError(400, '"event.event_type" must be a non-empty string.')
    data = event.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WebhookError(400, '"event.data" must be an object.')
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    who = agent.get("summary") or agent.get("name") or agent.get("id") or "someone"
    return event_type, data, str(who)[:200], str(event.get("id") or "")[:64]


def _paged_incident(service: PagerDutyService, data: dict) -> Incident | None:
    """The incident of this service's organisation that this service was paged for, by the
    PagerDuty incident's incident_key (= the dedup_key Vigil sent)."""
    key = data.get("incident_key")
    if not isinstance(key, str) or not key or len(key) > 255:
        return None
    paged = PagerDutyEvent.objects.filter(
        service=service, action=PagerDutyEvent.Action.TRIGGER, dedup_key=key
    ).values_list("incident_id", flat=True)
    return Incident.objects.filter(pk__in=paged, key=key).first()


def _noted(incident: Incident, event_id: str) -> bool:
    """Whether this webhook event (PagerDuty's id) is on the timeline already: a redelivery."""
    return bool(event_id) and (
        TimelineEvent.objects.filter(incident=incident, data__pagerduty_event=event_id).exists()
    )


def _acknowledge(
    service, incident: Incident, who: str, pd_incident: str, event_id: str
) -> JsonResponse:
    if incident.status != Status.REPORTED or incident.acknowledged_at is not None:
        return JsonResponse({"result": "already acknowledged", "incident": incident.key})
    note = f"acknowledged in PagerDuty by {who} ({service.name})"
    try:
        incident_services.incident_transition(
            incident=incident, name="start_investigation", actor=None, note=note
        )
    except incident_services.RequirementsMissing as missing:
        # The lifecycle asks for something PagerDuty cannot give (a commander for a SEV-1/2):
        # say so on the timeline; a responder finishes the acknowledgement in Vigil.
        words = "; ".join(missing.messages)
        if not _noted(incident, event_id):
            TimelineEvent.objects.create(
                organization_id=incident.organization_id,
                incident=incident,
                kind=TimelineEvent.Kind.ESCALATION,
                message=f"{note[0].upper()}{note[1:]}, but not acknowledged in Vigil: {words}",
                data={
                    "pagerduty_incident": pd_incident,
                    "pagerduty_event": event_id,
                    "missing": missing.messages,
                },
            )
        return JsonResponse(
            {"result": "not acknowledged", "incident": incident.key, "missing": missing.messages},
            status=202,
        )
    except incident_services.ConcurrentChange:
        raise WebhookError(503, "The incident changed meanwhile; retry.") from None
    return JsonResponse({"result": "acknowledged", "incident": incident.key})


def _note_resolved(incident: Incident, who: str, pd_incident: str, event_id: str) -> JsonResponse:
    if not _noted(incident, event_id):
        TimelineEvent.objects.create(
            organization_id=incident.organization_id,
            incident=incident,
            kind=TimelineEvent.Kind.ESCALATION,
            message=f"Resolved in PagerDuty by {who}",
            data={"pagerduty_incident": pd_incident, "pagerduty_event": event_id},
        )
    return JsonResponse({"result": "noted", "incident": incident.key})


@csrf_exempt
@login_not_required
@require_POST
def receive(request, public_id: str):
    """Verify, parse, act. Answers 2xx for everything PagerDuty should not send again."""
    try:
        service = _service(public_id)
        body = _read_body(request)
        try:
            secret = reveal(service.webhook_secret)
        except SecretUnavailable as error:
            log.warning("PagerDuty hook %s: signing secret unavailable (%s)", public_id, error)
            raise WebhookError(503, "The signing secret is unavailable.") from None
        if not signature_matches(secret, body, request.META.get(SIGNATURE_HEADER, "")):
            raise WebhookError(401, "Missing or wrong X-PagerDuty-Signature.")
        event_type, data, who, event_id = _parse(body)
        if event_type not in ("incident.acknowledged", "incident.resolved"):
            return JsonResponse({"result": "ignored", "event_type": event_type}, status=202)
        with org_scope(service.organization_id), audit_context(origin="webhook:pagerduty"):
            incident = _paged_incident(service, data)
            if incident is None:
                return JsonResponse(
                    {"result": "ignored", "detail": "no incident paged"}, status=202
                )
            pd_incident = str(data.get("id", ""))[:64]
            if event_type == "incident.acknowledged":
                return _acknowledge(service, incident, who, pd_incident, event_id)
            return _note_resolved(incident, who, pd_incident, event_id)
    except WebhookError as error:
        return JsonResponse({"error": error.message}, status=error.status)
    except (PermissionDenied, ValidationError) as error:
        return JsonResponse({"result": "refused", "detail": str(error)}, status=202)
    except (OperationalError, InterfaceError) as error:
        log.warning("PagerDuty hook: store unavailable: %s", type(error).__name__)
        return JsonResponse({"error": "The store is unavailable; retry later."}, status=503)
