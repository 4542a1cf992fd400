"""Vigil's URLs plus B1's baselines, served by the same gunicorn, settings and middleware stack
as `POST /hooks/<id>/` (bench/b1_ingest.py):

- (c) `POST /bench/bare/`: a bare view that only parses the JSON body and answers 202;
- (m) `POST /bench/minimal/<public_id>/`: docs/performance.md §3.2's "minimal ingest" (a B0
  baseline of §4) — the source's bearer secret checked against Vigil's source row, the JSON
  parsed, the raw body inserted and one group per alert upserted (INSERT … ON CONFLICT on a
  partial unique index), all in one transaction with a synchronous commit, in plain SQL on
  tables of its own (bench_minimal_*, created by bench/b1_ingest.py). What the same box and
  server do when ingestion is one transaction of a few statements.

Vigil's own URLconf is not changed.
"""

import hashlib
import json
import secrets

from django.contrib.auth.decorators import login_not_required
from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as vigil_urlpatterns


@csrf_exempt
@login_not_required
@require_POST
def bare_view(request):
    body = json.loads(request.body)
    return JsonResponse({"accepted": len(body.get("alerts") or ())}, status=202)


@csrf_exempt
@login_not_required
@require_POST
def minimal_ingest(request, public_id: str):
    scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    raw = request.body
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, secret_hash FROM integrations_alertsource"
            " WHERE public_id = %s AND is_enabled",
            [public_id],
        )
        row = cursor.fetchone()
        if row is None:
            return JsonResponse({"error": "Unknown alert source."}, status=404)
        given = hashlib.sha256(secret.strip().encode()).hexdigest()
        if scheme.lower() != "bearer" or not secrets.compare_digest(given, row[1]):
            return JsonResponse({"error": "Missing or wrong secret."}, status=401)
        alerts = json.loads(raw)["alerts"]
        cursor.execute(
            "INSERT INTO bench_minimal_raw (source_id, received_at, body)"
            " VALUES (%s, %s, %s) RETURNING id",
            [row[0], now, raw.decode()],
        )
        payload = cursor.fetchone()[0]
        for alert in alerts:
            cursor.execute(
                "INSERT INTO bench_minimal_group"
                " (source_id, fingerprint, status, first_seen, last_seen, count)"
                " VALUES (%s, %s, 'firing', %s, %s, 1)"
                " ON CONFLICT (source_id, fingerprint) WHERE status = 'firing'"
                " DO UPDATE SET count = bench_minimal_group.count + 1,"
                " last_seen = EXCLUDED.last_seen",
                [row[0], alert["fingerprint"], now, now],
            )
    return JsonResponse({"accepted": len(alerts), "payload": payload}, status=202)


urlpatterns = [
    path("bench/bare/", bare_view, name="bench_bare"),
    path("bench/minimal/<str:public_id>/", minimal_ingest, name="bench_minimal"),
    *vigil_urlpatterns,
]
