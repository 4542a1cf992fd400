"""Browser-facing protections that Django and django-csp do not set on their own
(docs/browser-security.md): a Permissions-Policy header on every response, and a request body
over DATA_UPLOAD_MAX_MEMORY_SIZE answered with 413 and a message that says so, not a bare 400."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults


def bad_request(request, exception=None):
    """Django's handler400, except for a body over DATA_UPLOAD_MAX_MEMORY_SIZE or with more than
    DATA_UPLOAD_MAX_NUMBER_FIELDS fields (raised while the CSRF check reads the form, before any
    view): 413 with what the limit is, as JSON for the API and webhooks and as a page for people."""
    if isinstance(exception, RequestDataTooBig):
        detail = (
            f"The request is larger than Vigil accepts "
            f"({settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} KiB)."
        )
    elif isinstance(exception, TooManyFieldsSent):
        detail = (
            f"The request has more fields than Vigil accepts "
            f"({settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})."
        )
    else:
        return defaults.bad_request(request, exception)
    if request.path.startswith(("/api/", "/hooks/")):
        return JsonResponse({"error": "too_large", "detail": detail}, status=413)
    return render(request, "413.html", {"detail": detail}, status=413)


class BrowserSecurityMiddleware:
    """Adds the Permissions-Policy header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
