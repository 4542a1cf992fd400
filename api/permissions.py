"""Permissions every API view applies (settings.REST_FRAMEWORK); kept apart from api.base, which
imports DRF's views — and they read these settings at import time."""

from rest_framework import permissions


class TokenScope(permissions.BasePermission):
    """A read token may only read."""

    message = "This API token is read-only; create a token with the write scope to change data."

    def has_permission(self, request, view):
        token = request.auth
        if token is None:
            return False
        return request.method in permissions.SAFE_METHODS or token.can_write
