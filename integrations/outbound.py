"""Calls back to the tools that sent the alerts: an Alertmanager silence while an incident is
acknowledged (expired when it is resolved), and a signed state webhook on every transition.
Each call is a row, queued on commit, retried with backoff by the sweep, never blocking."""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.models import Incident
from integrations.models import AlertGroup, AlertSource, OutboundCall
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 5
SILENCE_HOURS = 24
ENDS_SILENCE = (Status.RESOLVED, Status.CLOSED, Status.DISMISSED, Status.DUPLICATE)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 1800))


def sign(secret: str, body: bytes, stamp: int | None = None) -> str:
    stamp = stamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _queue(call: OutboundCall) -> None:
    from integrations.tasks import send_outbound_task

    org_id, call_id = call.organization_id, call.pk

    def enqueue():
        try:
            send_outbound_task.delay(org_id, call_id)
        except Exception:  # noqa: BLE001 — the sweep sends it; a broker outage blocks nothing
            log.warning("could not queue outbound call %s; the sweep will send it", call_id)

    transaction.on_commit(enqueue)


def _record(source, incident, kind, key, payload) -> OutboundCall | None:
    call, created = OutboundCall.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "organization_id": incident.organization_id,
            "source": source,
            "incident": incident,
            "kind": kind,
            "payload": payload,
        },
    )
    if created:
        _queue(call)
    return call if created else None


def _matchers(groups) -> list[dict]:
    """Alertmanager matchers common to every firing group of the incident (at least the
    alert name, so the silence is never broader than the incident)."""
    label_sets = [g.labels for g in groups if g.labels]
    if not label_sets:
        return []
    common = dict(label_sets[0])
    for labels in label_sets[1:]:
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    if "alertname" not in common:
        return []
    return [
        {"name": k, "value": v, "isRegex": False, "isEqual": True}
        for k, v in sorted(common.items())
    ]


def on_transition(*, incident: Incident, previous: str, target: str) -> None:
    """Inside the transition's transaction: record the calls its sources want."""
    groups = list(AlertGroup.objects.filter(incident=incident).select_related("source"))
    sources = {g.source_id: g.source for g in groups}
    now = timezone.now()
    for source in sources.values():
        mine = [g for g in groups if g.source_id == source.pk]
        if source.alertmanager_api_url:
            if target == Status.INVESTIGATING and previous == Status.REPORTED:
                matchers = _matchers([g for g in mine if g.status == "firing"])
                if matchers:
                    _record(
                        source,
                        incident,
                        OutboundCall.Kind.SILENCE_CREATE,
                        f"silence:{source.pk}:{incident.pk}:{incident.reopen_count}",
                        {
                            "matchers": matchers,
                            "startsAt": now.isoformat(),
                            "endsAt": (now + timedelta(hours=SILENCE_HOURS)).isoformat(),
                            "createdBy": "Vigil",
                            "comment": f"{incident.key} acknowledged in Vigil",
                        },
                    )
            if target in ENDS_SILENCE:
                _record(
                    source,
                    incident,
                    OutboundCall.Kind.SILENCE_EXPIRE,
                    f"unsilence:{source.pk}:{incident.pk}:{incident.reopen_count}",
                    {},
                )
        if source.outbound_webhook_url:
            _record(
                source,
                incident,
                OutboundCall.Kind.WEBHOOK,
                f"webhook:{source.pk}:{incident.pk}:{incident.version}",
                {
                    "incident": incident.key,
                    "title": incident.title,
                    "status": target,
                    "previous_status": previous,
                    "severity": incident.severity.name,
                    "at": now.isoformat(),
                },
            )


def _request(method: str, url: str, body: bytes | None, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, response.read(4000).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, (error.read(2000) if error.fp else b"").decode("utf-8", "replace")


def _perform(call: OutboundCall) -> tuple[bool, str]:
    source: AlertSource = call.source
    if call.kind == OutboundCall.Kind.WEBHOOK:
        body = json.dumps(call.payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Vigil",
            # The same on every attempt of this call (a retry after a crash included), so the
            # receiver can drop a repeat; a digest, so no internal ids leave Vigil.
            "Idempotency-Key": hashlib.sha256(call.idempotency_key.encode()).hexdigest()[:32],
        }
        if source.outbound_secret:
            headers["X-Vigil-Signature"] = sign(source.outbound_secret, body)
        status, text = _request("POST", source.outbound_webhook_url, body, headers)
        return 200 <= status < 300, f"HTTP {status} {text[:200]}"
    base = source.alertmanager_api_url.rstrip("/")
    if call.kind == OutboundCall.Kind.SILENCE_CREATE:
        body = json.dumps(call.payload).encode()
        status, text = _request(
            "POST", f"{base}/api/v2/silences", body, {"Content-Type": "application/json"}
        )
        if 200 <= status < 300:
            try:
                call.silence_id = str(json.loads(text).get("silenceID", ""))
            except (json.JSONDecodeError, AttributeError):
                return False, f"HTTP {status}: no silenceID in the answer"
            return True, f"HTTP {status} silence {call.silence_id}"
        return False, f"HTTP {status} {text[:200]}"
    created = (
        OutboundCall.objects.filter(
            incident=call.incident,
            source=source,
            kind=OutboundCall.Kind.SILENCE_CREATE,
            status=OutboundCall.Status.SENT,
        )
        .exclude(silence_id="")
        .order_by("-created_at")
        .first()
    )
    if created is None:
        return True, "no silence was created: nothing to expire"
    status, text = _request("DELETE", f"{base}/api/v2/silence/{created.silence_id}", None, {})
    ok = 200 <= status < 300 or status == 404  # gone already is what we wanted
    return ok, f"HTTP {status} {text[:200]}"


def send(*, call: OutboundCall, now=None) -> OutboundCall | None:
    """Claim, perform, record. Runs once per attempt; a second caller finds nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        call = (
            OutboundCall.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("source", "incident")
            .filter(pk=call.pk, status=OutboundCall.Status.PENDING)
            .first()
        )
        if call is None:
            return None
        try:
            ok, detail = _perform(call)
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            ok, detail = False, f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        call.attempts += 1
        call.response = detail[:2000]
        if ok:
            call.status = OutboundCall.Status.SENT
            call.sent_at = now
            call.last_error = ""
        else:
            call.last_error = detail[:500]
            if call.attempts >= MAX_ATTEMPTS:
                call.status = OutboundCall.Status.FAILED
            else:
                call.next_attempt_at = now + backoff(call.attempts)
        call.save()
        return call


def sweep(*, now=None, limit: int = 100) -> int:
    """Send what is due (the safety net for lost messages and the retry schedule)."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            OutboundCall.objects.filter(status="pending", next_attempt_at__lte=now).values_list(
                "pk", "organization_id"
            )[:limit]
        )
    sent = 0
    for call_id, org_id in due:
        with org_scope(org_id):
            call = OutboundCall.objects.filter(pk=call_id).first()
            if call is not None and send(call=call, now=now) is not None:
                sent += 1
    return sent
