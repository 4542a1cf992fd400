from rest_framework import serializers


class MeSerializer(serializers.Serializer):
    user = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.full_name")
    organization = serializers.SlugField(source="membership.organization.slug")
    role = serializers.CharField(source="membership.role")
    token = serializers.CharField(source="token.name")
    scope = serializers.CharField(source="token.scope")
    expires_at = serializers.DateTimeField(source="token.expires_at")
