"""`POST /hooks/ticketing/<public_id>/`: see inbound.py for what it does and answers."""

import json

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scopes_disabled

from integrations.ticketing import inbound
from integrations.ticketing.inbound import HookError
from integrations.ticketing.models import TicketIntegration
from tenancy.scoping import org_scope


def _bearer(request) -> str:
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or ""
    too_large = HookError(413, f"Body larger than {inbound.MAX_BODY_BYTES} bytes.")
    if length.isdigit() and int(length) > inbound.MAX_BODY_BYTES:
        raise too_large
    body = request.read(inbound.MAX_BODY_BYTES + 1)
    if len(body) > inbound.MAX_BODY_BYTES:
        raise too_large
    return body


@csrf_exempt
@login_not_required
@require_POST
def ticket_hook(request, public_id: str):
    try:
        with scopes_disabled():
            integration = TicketIntegration.objects.filter(
                public_id=public_id, is_enabled=True
            ).first()
        if integration is None:
            raise HookError(404, "Unknown ticketing hook.")
        inbound.authenticate(
            integration, bearer=_bearer(request), query_secret=request.GET.get("secret", "")
        )
        body = _body(request)
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise HookError(415, "Send JSON with Content-Type: application/json.")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HookError(400, f"Malformed JSON: {error}") from None
        except RecursionError:
            raise HookError(400, "Malformed JSON: nested too deeply.") from None
        with org_scope(integration.organization_id):
            status, answer = inbound.receive(integration, payload)
    except HookError as error:
        return JsonResponse({"error": error.message}, status=error.status)
    return JsonResponse(answer, status=status)
