"""Request-wide middleware that belongs to no app: the request id every log line and the
response carry, and the refusal of NUL bytes in the path or query string (PostgreSQL cannot
store or compare them, so a lookup by such a value would end in a 500)."""

import re
import secrets

from django.core.signals import request_finished
from django.http import HttpResponseBadRequest

from config import logging as vigil_logging

HEADER = "X-Request-ID"
# A caller's id is taken when it is a plain token (a proxy's or load balancer's); anything
# else — too long, spaces, quotes, control characters — is replaced by one of ours.
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


class RequestIdMiddleware:
    """First in MIDDLEWARE: names the request (X-Request-ID when safe, else a new id), exposes
    it to the log formatters for the request's duration and answers it in the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if SAFE_ID.fullmatch(offered) else secrets.token_hex(16)
        request.request_id = request_id
        # Kept until request_finished (below): Django logs a 4xx/5xx after the middleware
        # chain has returned, and that line must carry the id too.
        vigil_logging.REQUEST_ID.set(request_id)
        vigil_logging.REQUEST.set(request)
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            response = HttpResponseBadRequest(
                "NUL bytes are not allowed in the path or query string.",
                content_type="text/plain",
            )
        else:
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


def forget_request(**kwargs) -> None:
    """request_finished: the next log line outside a request names no request."""
    vigil_logging.REQUEST_ID.set("")
    vigil_logging.REQUEST.set(None)


request_finished.connect(forget_request, dispatch_uid="vigil.forget_request")
