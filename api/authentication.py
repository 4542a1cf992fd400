"""`Authorization: Bearer vgl_<lookup>_<secret>`: the request acts as the token's user, in the
token's organisation, with the user's current role there."""

from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from api.models import PREFIX, ApiToken
from tenancy.models import Membership

INVALID = "The API token is missing, malformed, unknown, expired or revoked."


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(INVALID)
        try:
            prefix, lookup, secret = header[1].decode("ascii").split("_", 2)
        except (UnicodeDecodeError, ValueError) as error:
            raise exceptions.AuthenticationFailed(INVALID) from error
        if prefix != PREFIX or not lookup or not secret:
            raise exceptions.AuthenticationFailed(INVALID)
        with scopes_disabled():  # resolving the scope itself
            token = (
                ApiToken.objects.select_related("user", "organization")
                .filter(lookup=lookup)
                .first()
            )
            if token is None or not token.matches(secret) or not token.is_active:
                raise exceptions.AuthenticationFailed(INVALID)
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed(INVALID)
            membership = (
                Membership.objects.select_related("organization")
                .filter(organization=token.organization, user=token.user)
                .first()
            )
        if membership is None:
            raise exceptions.AuthenticationFailed(INVALID)
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            with scopes_disabled():
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        django_request = request._request
        django_request.org = membership.organization
        django_request.membership = membership
        django_request.api_token = token
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="vigil-api"'
