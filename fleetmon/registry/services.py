"""Writes to the fleet registry."""

from django.db import transaction
from django.utils import timezone

from fleetmon.registry.models import FleetToken


def fleet_token_create(*, name: str) -> tuple[FleetToken, str]:
    """Create a fleet token called `name`; return the row and the plain token (shown once)."""
    plain = FleetToken.generate()
    with transaction.atomic():
        token = FleetToken.objects.create(
            name=name, token_hash=FleetToken.hash(plain), hint=plain[:10]
        )
    return token, plain


def fleet_token_revoke(*, token: FleetToken) -> None:
    FleetToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
