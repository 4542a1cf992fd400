"""The 500 handler, which answers 503 + Retry-After instead when the cause is an outage of a
store Vigil depends on (PostgreSQL unreachable or restarting, the broker down while a view
queues work): the request may succeed in a moment, and webhook senders retry a 503 but
may drop a 500 (docs/reliability.md). Everything else is the usual 500 page."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
JSON_PREFIXES = ("/hooks/", "/api/")


def _is_outage(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError | BrokerError)


def unavailable(request) -> HttpResponse:
    """503 with Retry-After: JSON for machine surfaces, a plain page (no database, no
    context processors) for people."""
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse(
            {"error": "Vigil's data store is unavailable; retry later."}, status=503
        )
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: Django calls it while handling the uncaught exception, so it is
    sys.exc_info()'s."""
    error = sys.exc_info()[1]
    if _is_outage(error):
        log.warning("store unavailable answering %s: %s", request.path, type(error).__name__)
        return unavailable(request)
    return defaults.server_error(request, template_name)
