from types import SimpleNamespace

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from api.base import OrgAPIView
from api.serializers import MeSerializer


class MeView(OrgAPIView):
    """Who the token acts as: user, organisation, role, the token's scope and expiry."""

    @extend_schema(responses=MeSerializer, operation_id="me")
    def get(self, request):
        data = SimpleNamespace(user=request.user, membership=self.membership, token=request.auth)
        return Response(MeSerializer(data).data)
