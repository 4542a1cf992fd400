"""Every API error is JSON: `{"code": "<stable>", "detail": "<for people>"}`, and validation
errors add `"fields": {"<field>": ["<message>", …]}` naming each field."""

import math

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_handler


def _first_code(codes):
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list):
        return _first_code(codes[0]) if codes else "invalid"
    return codes


def exception_handler(exc, context):
    response = drf_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        names = ", ".join(sorted(fields))
        response.data = {
            "code": "invalid",
            "detail": f"The request is not valid: {names}.",
            "fields": fields,
        }
        return response
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    code = _first_code(codes) if codes else "error"
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    body = {"code": str(code), "detail": str(detail or exc)}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = math.ceil(exc.wait)
    response.data = body
    return response


def not_found(request, *args, **kwargs):
    """Unknown `/api/…` paths answer JSON too."""
    return JsonResponse(
        {"code": "not_found", "detail": "No such API endpoint."}, status=status.HTTP_404_NOT_FOUND
    )
