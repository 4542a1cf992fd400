"""`Idempotency-Key` on POST: the first request with a key runs and the outcome is kept; the
same key with the same request gets that answer again (`Idempotent-Replayed: true`), with
another request 409 `idempotency_conflict`, and while the first still runs 409
`idempotency_in_progress`. Claiming a key is one `INSERT … ON CONFLICT DO NOTHING`, committed
before the request runs, so two concurrent requests with one key never both execute. Keys
expire after 24 hours (expired rows are deleted whenever the organisation claims a new key).

No response body of an object is stored: a success keeps its status, `Location` and the id of
the object it made or changed, and a replay rebuilds the body through the view's current read
path (`replay_body`), so access and masking apply as they are now — 404 if the user may no longer
see it. An error (4xx) keeps its error body, which names no object. A claim that has had no
outcome for `ABANDONED_AFTER` (its worker died) may be claimed again by the next request."""

import datetime
import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
LIFETIME = datetime.timedelta(hours=24)
ABANDONED_AFTER = datetime.timedelta(seconds=60)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_conflict"
    default_detail = (
        "This Idempotency-Key was already used with a different request. Use a new key for a "
        "new request."
    )


class InProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_progress"
    default_detail = (
        "A request with this Idempotency-Key is still being processed. Retry in a moment to get "
        "its response."
    )


class Replay(Exception):
    """Carries the rebuilt response out of `initial()`; the view returns it as is."""

    def __init__(self, response: Response):
        self.response = response


class Done(Exception):
    """The key's request has run: `record` says how (see `replay`)."""

    def __init__(self, record: IdempotencyRecord):
        self.record = record


def request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.get_full_path().encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def claim(request) -> IdempotencyRecord | None:
    """For a POST with the header: the new record this request owns (store the response in it
    with `finish`), or raise Replay / Conflict / InProgress. None without the header."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_LENGTH:
        raise ValidationError(
            {HEADER: [f"Send 1 to {MAX_LENGTH} characters (a UUID is a good choice)."]}
        )
    django_request = request._request
    organization, user = django_request.org, django_request.user
    fingerprint = request_hash(django_request)
    now = timezone.now()
    with transaction.atomic():
        IdempotencyRecord.objects.filter(
            organization=organization, created_at__lt=now - LIFETIME
        ).delete()
        with connection.cursor() as cursor:
            # Waits for a concurrent claim of the same key to commit or roll back.
            cursor.execute(
                """
                INSERT INTO api_idempotencyrecord
                    (organization_id, user_id, key, request_hash, location, created_at)
                VALUES (%s, %s, %s, %s, '', %s)
                ON CONFLICT (organization_id, user_id, key) DO NOTHING
                RETURNING id
                """,
                [organization.pk, user.pk, key, fingerprint, now],
            )
            row = cursor.fetchone()
    if row is not None:
        return IdempotencyRecord.objects.get(pk=row[0])
    record = IdempotencyRecord.objects.get(organization=organization, user=user, key=key)
    if record.request_hash != fingerprint:
        raise Conflict()
    if record.status_code is None:
        # A claim without an outcome for a minute: its worker died between claim and finish.
        # Take it over (one UPDATE, so of two retries only one does).
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, status_code__isnull=True, created_at__lt=now - ABANDONED_AFTER
        ).update(created_at=now)
        if taken:
            record.created_at = now
            return record
        raise InProgress()
    raise Done(record)


def replay(record: IdempotencyRecord, view) -> Response:
    """The answer to a repeat of the finished request `record`: an error as it was; a success
    rebuilt by `view.replay_body(object_id)` as the user may see the object now (it raises
    NotFound when they may no longer)."""
    if record.status_code >= 400 or record.object_id is None:
        response = Response(record.error_body, status=record.status_code)
    else:
        response = Response(view.replay_body(record.object_id), status=record.status_code)
        if record.location:
            response["Location"] = record.location
    response["Idempotent-Replayed"] = "true"
    return response


def finish(record: IdempotencyRecord, response, object_id: int | None) -> None:
    """Keep the outcome of a request that ran (a 5xx is not kept: the key may be retried): the
    object's id for a success, the error body for an error — never an object's body."""
    if response.status_code >= 500 or not hasattr(response, "data"):
        release(record)
        return
    error_body = None
    if response.status_code >= 400:
        error_body = json.loads(json.dumps(response.data, default=str))
        object_id = None
    _own(record).update(
        status_code=response.status_code,
        object_id=object_id,
        error_body=error_body,
        location=response.get("Location", "")[:500],
    )


def release(record: IdempotencyRecord) -> None:
    _own(record).delete()


def _own(record: IdempotencyRecord):
    """The record while it is still this request's claim: no outcome yet, and not taken over
    since (a takeover moves `created_at`), so an overtaken worker changes nothing."""
    return IdempotencyRecord.objects.filter(
        pk=record.pk, status_code__isnull=True, created_at=record.created_at
    )
