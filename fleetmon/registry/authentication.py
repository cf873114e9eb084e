"""DRF authentication for gateways: `Authorization: Token fmi_...`, never a user session."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from fleetmon.registry.models import FleetToken

# last_used_at is bookkeeping, not security: write it at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class FleetTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode().lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected `Token <fleet token>`."
            )
        plain = header[1].decode(errors="replace")
        token = (
            FleetToken.objects.filter(token_hash=FleetToken.hash(plain), revoked_at__isnull=True)
            .only("pk", "name", "last_used_at")
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked fleet token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            FleetToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return (None, token)

    def authenticate_header(self, request) -> str:
        return self.keyword


class HasFleetToken:
    """Permission: the request authenticated with a live fleet token."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, FleetToken)

    def has_object_permission(self, request, view, obj) -> bool:
        return self.has_permission(request, view)


class FleetTokenScheme(OpenApiAuthenticationExtension):
    """Describe the fleet token in the OpenAPI schema."""

    target_class = FleetTokenAuthentication
    name = "fleetToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token fmi_...`, from `manage.py create_ingest_token NAME`",
        }
