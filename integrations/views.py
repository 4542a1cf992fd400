"""`POST /hooks/<public-id>/` — where monitoring tools send alerts. Answers 202 only after the
raw payload is committed; 4xx with a clear JSON error for bad input; 503 when the store is
down so the sender retries."""

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import ingest
from integrations.adapters import normalize
from integrations.ingest import IngestError
from integrations.models import RawPayload
from integrations.normalized import PayloadError
from tenancy.scoping import org_scope

log = logging.getLogger(__name__)
JSON_TYPES = ("application/json", "text/json")


def _error(status: int, message: str, retry_after: int | None = None) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _read_body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > ingest.MAX_BODY_BYTES:
        raise IngestError(413, f"Body larger than {ingest.MAX_BODY_BYTES} bytes.")
    body = request.read(ingest.MAX_BODY_BYTES + 1)
    if len(body) > ingest.MAX_BODY_BYTES:
        raise IngestError(413, f"Body larger than {ingest.MAX_BODY_BYTES} bytes.")
    return body


def _bearer(request) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _routing_key(body: bytes) -> str:
    if b"routing_key" not in body:
        return ""
    try:
        value = ingest.parse_json(body)
    except PayloadError:
        return ""
    return value.get("routing_key", "") if isinstance(value, dict) else ""


@csrf_exempt
@login_not_required
@require_POST
def hook(request, public_id: str, secret: str = "", heartbeat: bool = False):
    """Authenticate, store, process. Secrets never reach the logs (see config.logging)."""
    source = None
    try:
        source = ingest.source_for(public_id)
        body = _read_body(request)
        credentials = {
            "bearer": _bearer(request),
            "path_secret": secret,
            "body_secret": _routing_key(body),
        }
        signature = request.META.get("HTTP_X_VIGIL_SIGNATURE", "")
        try:
            matched = _authenticate(source, credentials, signature, body, previous=False)
        except IngestError as error:
            if error.status != 401:
                raise
            # Not the current secret of the cached row: the source may have been rotated since
            # (in another process), or this is a rotation's previous secret, which is only
            # taken from a fresh row so that ending an overlap takes effect at once.
            ingest.SOURCES.forget(public_id)
            source = ingest.source_for(public_id)
            matched = _authenticate(source, credentials, signature, body, previous=True)
        ingest.check_rate(source)
        if heartbeat:
            ingest.record_signature(source, matched)
            return _heartbeat(source)
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            raise IngestError(415, "Send JSON with Content-Type: application/json.")
        try:
            alerts = normalize(source.kind, ingest.parse_json(body))
        except PayloadError as error:
            ingest.record_signature(source, matched)
            raw = ingest.store_raw(source=source, body=body, content_type=content_type)
            with org_scope(raw.organization_id):
                RawPayload.objects.filter(pk=raw.pk).update(
                    status=RawPayload.Status.REJECTED, error=str(error)[:500]
                )
            raise IngestError(400, str(error)) from None
        # Stored and processed in one transaction; a processing failure still commits the
        # raw payload (as "received", for the reprocessing sweep) and answers 202.
        raw_id, outcome = ingest.receive(
            source, body=body, content_type=content_type, alerts=alerts, signature=matched
        )
    except IngestError as error:
        if source is not None and error.status in (400, 401, 413, 415):
            ingest.count_rejection(source)
        return _error(error.status, error.message, error.retry_after)
    except (OperationalError, InterfaceError) as error:
        log.warning("alert store unavailable: %s", type(error).__name__)
        return _error(503, "The alert store is unavailable; retry later.", 30)
    if outcome is None:
        return JsonResponse(
            {"accepted": len(alerts), "payload": raw_id, "queued": True}, status=202
        )
    return JsonResponse(
        {
            "accepted": outcome.alerts,
            "payload": raw_id,
            "groups_new": outcome.groups_new,
            "groups_joined": outcome.groups_joined,
            "resolved": outcome.resolved,
            "suppressed": outcome.suppressed,
            "incidents": outcome.incidents,
        },
        status=202,
    )


def _authenticate(
    source, credentials: dict, signature: str, body: bytes, previous: bool
) -> str | None:
    """The secret and the signature; the signature that matched, for the caller to record."""
    ingest.check_secret(source, **credentials, previous=previous)
    return ingest.check_signature(source, header=signature, body=body, previous=previous)


def _heartbeat(source):
    ingest.heartbeat_received(source)
    return JsonResponse({"heartbeat": "ok"}, status=202)
