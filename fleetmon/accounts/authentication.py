"""DRF authentication for users' scripts: `Authorization: Token fmu_...` (hashed, expiring)."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from fleetmon.accounts.models import ApiToken
from fleetmon.registry.authentication import HashedTokenAuthentication


class UserTokenAuthentication(HashedTokenAuthentication):
    """A live user token: not revoked, not expired, its user active."""

    what = "API token"

    def live_tokens(self):
        return ApiToken.objects.select_related("user").filter(
            revoked_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True
        )

    def credentials(self, token) -> tuple:
        return (token.user, token)


class UserTokenScheme(OpenApiAuthenticationExtension):
    """Describe the user token in the OpenAPI schema."""

    target_class = UserTokenAuthentication
    name = "userToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token fmu_...`, from `manage.py create_api_token USERNAME`",
        }
