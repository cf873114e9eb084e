"""DRF authentication by hashed tokens: `Authorization: Token <plain>`.

Gateways send fleet tokens (`fmi_...`, this module); users' scripts send user tokens
(`fmu_...`, fleetmon.accounts.authentication). Both store only a SHA-256 of the token and
share the lookup below.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from fleetmon.registry.models import FleetToken

# last_used_at is bookkeeping, not security: write it at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class HashedTokenAuthentication(authentication.BaseAuthentication):
    """Look the token up by its hash among the live rows; subclasses say which rows."""

    keyword = "Token"
    what = "token"  # named in refusals

    def live_tokens(self):
        raise NotImplementedError

    def credentials(self, token) -> tuple:
        """The (user, auth) pair DRF stores on the request."""
        raise NotImplementedError

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                f"Invalid Authorization header: expected `Token <{self.what}>`."
            )
        plain = header[1].decode(errors="replace")
        token = self.live_tokens().filter(token_hash=FleetToken.hash(plain)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(f"Unknown, expired or revoked {self.what}.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
        return self.credentials(token)

    def authenticate_header(self, request) -> str:
        return self.keyword


class FleetTokenAuthentication(HashedTokenAuthentication):
    """Gateways: a fleet token, never a user session."""

    what = "fleet token"

    def live_tokens(self):
        return FleetToken.objects.filter(revoked_at__isnull=True).only("pk", "name", "last_used_at")

    def credentials(self, token) -> tuple:
        return (None, token)


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
