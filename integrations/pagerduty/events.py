"""Outbound: the Events API v2. An escalation step whose target is a PagerDuty service records a
`trigger` (dedup_key = the incident key); the incident's resolution (or any other end) records
a `resolve` with the same dedup_key. Each event is a row made in the transaction that decided
it — one per (service, incident, reopen count, action), so repeated escalations page once —
sent on commit by a task, and retried by the sweep: 429, 5xx and network errors with backoff,
400 (PagerDuty refused the event) never."""

import json
import logging
import urllib.error

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.masking import mask_text
from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from integrations.outbound import MAX_ATTEMPTS, _request, backoff
from integrations.pagerduty.models import PagerDutyEvent, PagerDutyService
from integrations.pagerduty.secrets import SecretUnavailable, reveal
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)
TARGET_KIND = "pagerduty"
ENDS = (Status.RESOLVED, Status.CLOSED, Status.DISMISSED, Status.DUPLICATE)
# PagerDuty's four severities, from Vigil's level (1 = strongest).
SEVERITIES = {1: "critical", 2: "error", 3: "warning"}
SUMMARY_MAX = 1024


def severity_for(incident: Incident) -> str:
    return SEVERITIES.get(incident.severity.level, "info")


def summary_for(incident: Incident) -> str:
    """What PagerDuty shows (and phones and texts): an outside system, so the title is masked
    like a chat message, and a restricted incident shows no title at all."""
    title = "restricted incident" if incident.is_restricted else mask_text(incident.title)
    return f"{incident.key} · {incident.severity.name} · {title}"[:SUMMARY_MAX]


def incident_url(incident: Incident) -> str:
    return f"{settings.SITE_URL}/o/{incident.organization.slug}/incidents/{incident.key}/"


def trigger_payload(incident: Incident, run=None) -> dict:
    """The event without its routing key (the key is added when sending, never stored here)."""
    details = {
        "incident": incident.key,
        "severity": incident.severity.name,
        "status": incident.get_status_display(),
        "organization": incident.organization.name,
    }
    if run is not None:
        details["escalation"] = run.step_label
    payload = {
        "summary": summary_for(incident),
        "source": f"vigil:{incident.organization.slug}",
        "severity": severity_for(incident),
        "timestamp": incident.created_at.isoformat(),
        "class": "incident",
        "custom_details": details,
    }
    if incident.primary_service_id:
        payload["component"] = incident.primary_service.name
    return {
        "payload": payload,
        "links": [{"href": incident_url(incident), "text": f"{incident.key} in Vigil"}],
        "client": "Vigil",
        "client_url": incident_url(incident),
    }


def _queue(event: PagerDutyEvent) -> None:
    from integrations.pagerduty.tasks import send_pagerduty_event_task

    org_id, event_id = event.organization_id, event.pk

    def enqueue():
        try:
            send_pagerduty_event_task.delay(org_id, event_id)
        except Exception:  # noqa: BLE001 — the sweep sends it; a broker outage blocks nothing
            log.warning("could not queue PagerDuty event %s; the sweep will send it", event_id)

    transaction.on_commit(enqueue)


def _record(service, incident, action: str, payload: dict) -> tuple[PagerDutyEvent, bool]:
    key = f"pagerduty:{action}:{service.pk}:{incident.pk}:{incident.reopen_count}"
    event, created = PagerDutyEvent.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "organization_id": incident.organization_id,
            "service": service,
            "incident": incident,
            "action": action,
            "dedup_key": incident.key,
            "payload": payload,
        },
    )
    if created:
        _queue(event)
    return event, created


def page(*, run, incident: Incident, now) -> str | None:
    """Registered in `incidents.registry.escalation_pagers`: fire a PagerDuty step (inside the
    sweeper's transaction, in the incident's organisation scope). Returns the timeline's
    words, or None for a step that is not ours."""
    step = run.step
    if step is None or step.target_kind != TARGET_KIND:
        return None
    service = PagerDutyService.objects.filter(public_id=step.integration_target).first()
    if service is None:
        return "no PagerDuty service (it was removed: nobody paged)"
    if not service.is_enabled:
        return f"PagerDuty service {service.name} (disabled: not paged)"
    _, created = _record(
        service, incident, PagerDutyEvent.Action.TRIGGER, trigger_payload(incident, run)
    )
    if created:
        return f"paged PagerDuty service {service.name}"
    return f"PagerDuty service {service.name} (already paged for {incident.key})"


def on_transition(*, incident: Incident, previous: str, target: str) -> None:
    """Registered in `incidents.registry.transition_hooks`: when the incident ends, resolve
    what this period of it triggered (same dedup_key, same routing key)."""
    if target not in ENDS:
        return
    triggers = PagerDutyEvent.objects.filter(
        incident=incident,
        action=PagerDutyEvent.Action.TRIGGER,
        idempotency_key__endswith=f":{incident.pk}:{incident.reopen_count}",
    ).exclude(status=PagerDutyEvent.Status.FAILED)
    for trigger in triggers.select_related("service"):
        _record(trigger.service, incident, PagerDutyEvent.Action.RESOLVE, {})


class _Retry(Exception):
    pass


def _perform(event: PagerDutyEvent) -> tuple[bool, str]:
    """(sent, detail); raises _Retry for what may work later."""
    if event.action == PagerDutyEvent.Action.RESOLVE:
        trigger = PagerDutyEvent.objects.filter(
            idempotency_key=event.idempotency_key.replace(":resolve:", ":trigger:", 1)
        ).first()
        if trigger is not None and trigger.status == PagerDutyEvent.Status.PENDING:
            raise _Retry("waiting for the trigger to be sent first")
        if trigger is None or trigger.status == PagerDutyEvent.Status.FAILED:
            return True, "nothing was triggered: nothing to resolve"
    try:
        routing_key = reveal(event.service.routing_key)
    except SecretUnavailable as error:
        raise _Retry(f"routing key unavailable: {error}") from None
    body = json.dumps(
        {
            "routing_key": routing_key,
            "event_action": event.action,
            "dedup_key": event.dedup_key,
            **event.payload,
        }
    ).encode()
    status, text = _request(
        "POST",
        f"{settings.PAGERDUTY_EVENTS_URL}/v2/enqueue",
        body,
        {"Content-Type": "application/json", "User-Agent": "Vigil"},
    )
    if 200 <= status < 300:
        return True, f"HTTP {status} {text[:300]}"
    if status in (408, 429) or status >= 500:
        raise _Retry(f"HTTP {status} {text[:300]}")
    return False, f"HTTP {status} {text[:300]}"  # 400: PagerDuty refused the event as invalid


def send(*, event: PagerDutyEvent, now=None) -> PagerDutyEvent | None:
    """Claim, perform, record — one attempt. A second caller finds the row claimed or done."""
    now = now or timezone.now()
    with transaction.atomic():
        event = (
            PagerDutyEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("service", "incident")
            .filter(pk=event.pk, status=PagerDutyEvent.Status.PENDING)
            .first()
        )
        if event is None:
            return None
        retry = False
        try:
            ok, detail = _perform(event)
        except _Retry as error:
            ok, detail, retry = False, str(error), True
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            ok, retry = False, True
            detail = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        event.attempts += 1
        event.response = detail[:2000]
        if ok:
            event.status = PagerDutyEvent.Status.SENT
            event.sent_at = now
            event.last_error = ""
        else:
            event.last_error = detail[:500]
            if retry and event.attempts < MAX_ATTEMPTS:
                event.next_attempt_at = now + backoff(event.attempts)
            else:
                event.status = PagerDutyEvent.Status.FAILED
                TimelineEvent.objects.create(
                    organization_id=event.organization_id,
                    incident=event.incident,
                    kind=TimelineEvent.Kind.ESCALATION,
                    message=f"PagerDuty {event.action} for {event.service.name} failed after "
                    f"{event.attempts} attempt(s): {detail[:200]}",
                    data={"pagerduty_event": event.pk},
                )
        event.save()
        return event


def sweep(*, now=None, limit: int = 100) -> int:
    """Send what is due: the retry schedule, and the safety net for lost task messages."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            PagerDutyEvent.objects.filter(
                status=PagerDutyEvent.Status.PENDING, next_attempt_at__lte=now
            )
            .order_by("next_attempt_at")
            .values_list("pk", "organization_id")[:limit]
        )
    sent = 0
    for event_id, org_id in due:
        with org_scope(org_id):
            event = PagerDutyEvent.objects.filter(pk=event_id).first()
            if event is not None and send(event=event, now=now) is not None:
                sent += 1
    return sent
