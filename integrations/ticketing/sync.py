"""Outbound ticketing sync. Calls are recorded as TicketCall rows inside the transaction that
caused them (declaration, transition), queued to Celery after commit and retried with backoff
by the sweep — the pattern of integrations/outbound.py, whose OutboundCall belongs to an alert
source and so does not fit a tracker.

- declaration → Jira `POST /rest/api/2/issue` / ServiceNow `POST /api/now/table/<table>`;
  the answer becomes the incident's TicketLink and a timeline entry. Idempotent: every
  attempt (the first too: a crashed worker's attempt is not counted) first looks the ticket
  up (Jira search on the summary's incident key, ServiceNow `correlation_id`), so a create
  whose answer was lost never makes a second ticket.
- each transition → Jira comment / ServiceNow `work_notes`;
- resolve / close → Jira transition (configured by name or id) / ServiceNow `state`.

4xx answers are final (failed, with the tracker's own error message); 5xx, 429, timeouts and
connection errors are retried with backoff up to MAX_ATTEMPTS."""

import base64
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.masking import mask_text
from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from integrations.ticketing import crypto
from integrations.ticketing.models import (
    ENV_PREFIX,
    TicketCall,
    TicketIntegration,
    TicketLink,
    env_name_allowed,
)
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 5
# Every comment Vigil writes starts with this, so the webhook can ignore its own echo even
# before the comment's id is known.
MARK = "[Vigil]"
ENDING = {Status.RESOLVED: TicketCall.Kind.RESOLVE, Status.CLOSED: TicketCall.Kind.CLOSE}


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 1800))


class Final(Exception):
    """An answer that retrying cannot change (4xx, a missing ticket or transition)."""


class Transient(Exception):
    """Worth another try later (5xx, 429, timeout, connection refused)."""


@dataclass
class Answer:
    status: int
    text: str

    def json(self):
        try:
            return json.loads(self.text or "null")
        except json.JSONDecodeError:
            return None


# — recording (inside the caller's transaction) ————————————————————————————————————————


def _queue(call: TicketCall) -> None:
    from integrations.ticketing.tasks import send_ticket_call_task

    org_id, call_id = call.organization_id, call.pk

    def enqueue():
        try:
            send_ticket_call_task.delay(org_id, call_id)
        except Exception:  # noqa: BLE001 — the sweep sends it; a broker outage blocks nothing
            log.warning("could not queue ticket call %s; the sweep will send it", call_id)

    transaction.on_commit(enqueue)


def _record(integration, incident, kind, key, payload) -> TicketCall | None:
    call, created = TicketCall.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "organization_id": incident.organization_id,
            "integration": integration,
            "incident": incident,
            "kind": kind,
            "payload": payload,
        },
    )
    if created:
        _queue(call)
    return call if created else None


def _urgency(incident: Incident) -> str:
    level = incident.severity.level
    return "1" if level <= 1 else "2" if level == 2 else "3"


def shareable(incident: Incident, text: str) -> str:
    """What of an incident's text may leave Vigil: personal data masked (as on every other
    surface), nothing at all of a restricted incident."""
    if incident.is_restricted:
        return ""
    return mask_text(text or "")


def create_payload(integration: TicketIntegration, incident: Incident) -> dict:
    title = shareable(incident, incident.title) or "Restricted incident"
    summary = f"{incident.key}: {title}"[:250]
    details = shareable(incident, incident.description or incident.title)
    if incident.is_restricted:
        details = "The details of this incident are restricted in Vigil."
    description = (
        f"{details}\n\nSeverity: {incident.severity} · Declared in Vigil as {incident.key}."
    )
    if integration.kind == TicketIntegration.Kind.JIRA:
        return {
            "fields": {
                "project": {"key": integration.project_key},
                "summary": summary,
                "description": description,
                "issuetype": {"name": integration.issue_type},
            }
        }
    return {
        "short_description": summary[:160],
        "description": description,
        "urgency": _urgency(incident),
        "impact": _urgency(incident),
        "correlation_id": incident.key,
        "correlation_display": "Vigil",
    }


def on_declared(*, incident: Incident) -> None:
    """Inside the declaration's transaction: one create call per tracker that mirrors it."""
    for integration in TicketIntegration.objects.filter(
        organization_id=incident.organization_id, is_enabled=True
    ).select_related("min_severity"):
        if integration.mirrors(incident):
            _record(
                integration,
                incident,
                TicketCall.Kind.CREATE,
                f"ticket:create:{integration.pk}:{incident.pk}",
                create_payload(integration, incident),
            )


def on_transition(*, incident: Incident, previous: str, target: str) -> None:
    """Inside the transition's transaction: a comment (and on resolve/close the tracker's own
    transition) for each tracker that has, or is creating, a ticket for the incident."""
    mirrored = TicketCall.objects.filter(
        incident=incident, kind=TicketCall.Kind.CREATE, integration__is_enabled=True
    ).exclude(status=TicketCall.Status.FAILED)
    integrations = TicketIntegration.objects.filter(
        pk__in=mirrored.values("integration_id"), organization_id=incident.organization_id
    )
    text = (
        f"{MARK} {incident.key} is now {Status(target).label.lower()} "
        f"(was {Status(previous).label.lower()})."
    )
    resolution = shareable(incident, incident.resolution_summary)
    if target in ENDING and resolution:
        text += f"\nResolution: {resolution}"
    for integration in integrations:
        ending = ENDING.get(target)
        is_servicenow = integration.kind == TicketIntegration.Kind.SERVICENOW
        if ending and is_servicenow:
            # One PATCH carries the state, the close fields and the work note.
            _record(
                integration,
                incident,
                ending,
                f"ticket:{ending}:{integration.pk}:{incident.pk}:{incident.version}",
                {"text": text},
            )
            continue
        _record(
            integration,
            incident,
            TicketCall.Kind.COMMENT,
            f"ticket:comment:{integration.pk}:{incident.pk}:{incident.version}",
            {"text": text},
        )
        configured = (
            integration.resolve_transition
            if ending == TicketCall.Kind.RESOLVE
            else integration.close_transition
        )
        if ending and configured:
            _record(
                integration,
                incident,
                ending,
                f"ticket:{ending}:{integration.pk}:{incident.pk}:{incident.version}",
                {"transition": configured},
            )


# — HTTP ——————————————————————————————————————————————————————————————————————————————


def credential(integration: TicketIntegration) -> str:
    """The secret to send: read from the environment at send time, or decrypted. Only a
    VIGIL_TICKETING_* variable is ever read (checked again here, whatever the row holds); the
    error is the same whether a name is not allowed or not set, so it reveals nothing about
    the server's other variables."""
    if integration.credential_env:
        name = integration.credential_env
        value = os.environ.get(name, "") if env_name_allowed(name) else ""
        if not value:
            raise crypto.CredentialUnavailable(
                f"No credential in the environment: only a set variable named {ENV_PREFIX}… "
                "is read."
            )
        return value
    if integration.credential_encrypted:
        return crypto.decrypt(integration.credential_encrypted)
    raise crypto.CredentialUnavailable("No credential is configured.")


def _headers(integration: TicketIntegration) -> dict:
    secret = credential(integration)
    if integration.auth_scheme == TicketIntegration.AuthScheme.BEARER:
        authorization = f"Bearer {secret}"
    else:
        pair = f"{integration.username}:{secret}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return {
        "Authorization": authorization,
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": "Vigil",
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would carry the Authorization header to wherever the
    tracker (or whoever answers at its address) points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx then surfaces as an HTTPError: a final answer


_opener = urllib.request.build_opener(_NoRedirect)


def _request(integration, method: str, path: str, body=None) -> Answer:
    url = integration.base_url.rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 — scheme checked: http(s) only
        url, data=data, method=method, headers=_headers(integration)
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            answer = Answer(response.status, response.read(20000).decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        text = (error.read(4000) if error.fp else b"").decode("utf-8", "replace")
        answer = Answer(error.code, text)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise Transient(f"{type(error).__name__}: {getattr(error, 'reason', error)}") from None
    if 200 <= answer.status < 300:
        return answer
    if 300 <= answer.status < 400:
        raise Final(
            f"HTTP {answer.status}: redirects are not followed; use the tracker's own address."
        )
    message = f"HTTP {answer.status}: {error_message(answer)}"
    if answer.status >= 500 or answer.status in (408, 429):
        raise Transient(message)
    raise Final(message)


def error_message(answer: Answer) -> str:
    """The tracker's own words: Jira's errorMessages/errors, ServiceNow's error.message."""
    body = answer.json()
    parts = []
    if isinstance(body, dict):
        parts += [str(m) for m in body.get("errorMessages") or [] if m]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        error = body.get("error")
        if isinstance(error, dict):
            parts += [str(error[k]) for k in ("message", "detail") if error.get(k)]
    return "; ".join(parts)[:400] or (answer.text or "").strip()[:200] or "no detail"


# — performing a call —————————————————————————————————————————————————————————————————


def _ticket_url(integration, key: str, sys_id: str) -> str:
    base = integration.base_url.rstrip("/")
    if integration.kind == TicketIntegration.Kind.JIRA:
        return f"{base}/browse/{key}"
    return f"{base}/nav_to.do?uri={integration.table}.do?sys_id={sys_id}"


def _existing_ticket(integration, incident) -> tuple[str, str] | None:
    """The ticket an earlier attempt made (its answer lost), if any: (key, id)."""
    if integration.kind == TicketIntegration.Kind.JIRA:
        jql = f'project = "{integration.project_key}" AND summary ~ "\\"{incident.key}\\""'
        query = urllib.parse.urlencode({"jql": jql, "fields": "summary", "maxResults": 10})
        try:
            # Jira Cloud: the enhanced search (GET /rest/api/2/search answers 410 Gone there).
            answer = _request(integration, "GET", f"/rest/api/2/search/jql?{query}")
        except Final as error:
            if not str(error).startswith(("HTTP 404", "HTTP 405")):
                raise
            # Jira Data Center has no /search/jql: the classic search.
            answer = _request(integration, "GET", f"/rest/api/2/search?{query}")
        for issue in (answer.json() or {}).get("issues") or []:
            summary = str((issue.get("fields") or {}).get("summary", ""))
            if summary.startswith(f"{incident.key}:"):
                key = issue.get("key")
                if not key:
                    path = (
                        f"/rest/api/2/issue/{urllib.parse.quote(str(issue['id']))}?fields=summary"
                    )
                    key = (_request(integration, "GET", path).json() or {}).get("key")
                return str(key), str(issue.get("id", ""))
        return None
    query = urllib.parse.urlencode(
        {
            "sysparm_query": f"correlation_id={incident.key}",
            "sysparm_fields": "sys_id,number",
            "sysparm_limit": 1,
        }
    )
    body = _request(integration, "GET", f"/api/now/table/{integration.table}?{query}").json()
    rows = (body or {}).get("result") or []
    if rows:
        return str(rows[0]["number"]), str(rows[0]["sys_id"])
    return None


def _create(call: TicketCall) -> str:
    integration, incident = call.integration, call.incident
    # Always look first, not only on a counted retry: `attempts` is raised in the transaction
    # that makes the HTTP call, so a worker that dies after the tracker answered rolls back
    # to attempts = 0 although the ticket exists.
    found = _existing_ticket(integration, incident)
    if found is None:
        if integration.kind == TicketIntegration.Kind.JIRA:
            body = _request(integration, "POST", "/rest/api/2/issue", call.payload).json() or {}
            key, ticket_id = body.get("key"), body.get("id", "")
        else:
            path = f"/api/now/table/{integration.table}"
            result = (_request(integration, "POST", path, call.payload).json() or {}).get("result")
            result = result if isinstance(result, dict) else {}
            key, ticket_id = result.get("number"), result.get("sys_id", "")
        if not key:
            raise Transient("The tracker answered without the new ticket's key.")
        found = str(key), str(ticket_id)
    key, ticket_id = found
    url = _ticket_url(integration, key, ticket_id)
    link, created = TicketLink.objects.get_or_create(
        integration=integration,
        incident=incident,
        defaults={
            "organization_id": incident.organization_id,
            "ticket_key": key,
            "ticket_id": ticket_id,
            "url": url,
        },
    )
    if created:
        _timeline_link(incident, integration, link)
    call.remote_id = key
    # What waited for the ticket can go now.
    waiting = TicketCall.objects.filter(
        integration=integration, incident=incident, status=TicketCall.Status.PENDING
    ).exclude(pk=call.pk)
    for other in waiting:
        other.next_attempt_at = timezone.now()
        other.save(update_fields=["next_attempt_at"])
        _queue(other)
    return f"ticket {key}"


def _timeline_link(incident, integration, link) -> None:
    TimelineEvent.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        kind=TimelineEvent.Kind.FIELD,
        actor=None,
        message=f"{integration.get_kind_display()} ticket {link.ticket_key}: {link.url}",
        data={"ticket": link.ticket_key, "url": link.url, "tracker": integration.kind},
    )


def _transition_id(integration, key: str, wanted: str) -> str:
    if wanted.isdigit():
        return wanted
    answer = _request(
        integration, "GET", f"/rest/api/2/issue/{urllib.parse.quote(key)}/transitions"
    )
    transitions = (answer.json() or {}).get("transitions") or []
    for transition in transitions:
        if str(transition.get("name", "")).casefold() == wanted.casefold():
            return str(transition["id"])
    names = ", ".join(str(t.get("name")) for t in transitions) or "none"
    raise Final(f"No transition named “{wanted}” from the issue's status (available: {names}).")


def _follow_up(call: TicketCall, link: TicketLink) -> str:
    integration = call.integration
    if integration.kind == TicketIntegration.Kind.JIRA:
        key = urllib.parse.quote(link.ticket_key)
        if call.kind == TicketCall.Kind.COMMENT:
            body = {"body": call.payload.get("text", "")}
            answer = _request(integration, "POST", f"/rest/api/2/issue/{key}/comment", body)
            call.remote_id = str((answer.json() or {}).get("id", ""))
            return f"comment {call.remote_id}"
        transition = _transition_id(integration, link.ticket_key, call.payload["transition"])
        body = {"transition": {"id": transition}}
        _request(integration, "POST", f"/rest/api/2/issue/{key}/transitions", body)
        return f"transition {transition}"
    path = f"/api/now/table/{integration.table}/{urllib.parse.quote(link.ticket_id)}"
    body = {"work_notes": call.payload.get("text", "")}
    if call.kind in (TicketCall.Kind.RESOLVE, TicketCall.Kind.CLOSE):
        resolving = call.kind == TicketCall.Kind.RESOLVE
        body["state"] = integration.resolved_state if resolving else integration.closed_state
        body["close_code"] = integration.close_code
        resolution = shareable(call.incident, call.incident.resolution_summary)
        body["close_notes"] = resolution or call.payload.get("text", "")
    _request(integration, "PATCH", path, body)
    return f"updated {link.ticket_key}" + (f" state {body['state']}" if "state" in body else "")


def _perform(call: TicketCall) -> str:
    if call.kind == TicketCall.Kind.CREATE:
        return _create(call)
    link = TicketLink.objects.filter(integration=call.integration, incident=call.incident).first()
    if link is None:
        creating = TicketCall.objects.filter(
            integration=call.integration,
            incident=call.incident,
            kind=TicketCall.Kind.CREATE,
            status=TicketCall.Status.PENDING,
        ).exists()
        if creating:
            raise Waiting()
        raise Final("The incident has no ticket in this tracker (its creation failed).")
    return _follow_up(call, link)


class Waiting(Exception):
    """The ticket is still being created: try again later without counting an attempt."""


def send(*, call: TicketCall, now=None) -> TicketCall | None:
    """Claim, perform, record. Runs once per attempt; a second caller finds nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        call = (
            TicketCall.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("integration", "incident", "incident__severity")
            .filter(pk=call.pk, status=TicketCall.Status.PENDING)
            .first()
        )
        if call is None:
            return None
        if not call.integration.is_enabled:
            call.status = TicketCall.Status.FAILED
            call.last_error = "The integration is disabled."
            call.save()
            return call
        try:
            detail = _perform(call)
        except Waiting:
            call.next_attempt_at = now + timedelta(seconds=15)
            call.save(update_fields=["next_attempt_at"])
            return call
        except (Final, crypto.CredentialUnavailable) as error:
            call.attempts += 1
            call.status = TicketCall.Status.FAILED
            call.last_error = str(error)[:500]
            call.response = str(error)[:2000]
        except Transient as error:
            call.attempts += 1
            call.last_error = str(error)[:500]
            call.response = str(error)[:2000]
            if call.attempts >= MAX_ATTEMPTS:
                call.status = TicketCall.Status.FAILED
            else:
                call.next_attempt_at = now + backoff(call.attempts)
        else:
            call.attempts += 1
            call.status = TicketCall.Status.SENT
            call.sent_at = now
            call.last_error = ""
            call.response = detail[:2000]
        call.save()
        return call


def sweep(*, now=None, limit: int = 100) -> int:
    """Send what is due: the retry schedule and the safety net for lost messages."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            TicketCall.objects.filter(
                status=TicketCall.Status.PENDING, next_attempt_at__lte=now
            ).values_list("pk", "organization_id")[:limit]
        )
    sent = 0
    for call_id, org_id in due:
        with org_scope(org_id):
            call = TicketCall.objects.filter(pk=call_id).first()
            if call is not None and send(call=call, now=now) is not None:
                sent += 1
    return sent
