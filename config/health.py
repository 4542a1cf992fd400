"""Liveness and readiness probes for load balancers and orchestrators."""

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


@login_not_required
@never_cache
def healthz(request):
    """The process is up and answering; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 — any failure means not ready
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    return None


def _broker_ok() -> str | None:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2
    )
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


@login_not_required
@never_cache
def readyz(request):
    """200 when the database and the broker answer; 503 naming the one that does not."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    body = {
        name: ("ok" if error is None else f"unreachable ({error})")
        for name, error in checks.items()
    }
    failed = [name for name, error in checks.items() if error is not None]
    body["status"] = "ok" if not failed else "unavailable: " + ", ".join(failed)
    return JsonResponse(body, status=503 if failed else 200)
