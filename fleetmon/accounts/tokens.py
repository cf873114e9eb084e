"""User API tokens: create (the plain token is returned once), revoke, hash."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fleetmon.accounts.models import ApiToken
from fleetmon.registry.models import FleetToken

MAX_DAYS = 3650


def token_hash(plain: str) -> str:
    """The stored form of a token: the same SHA-256 as fleet tokens."""
    return FleetToken.hash(plain)


def api_token_create(*, user, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token for `user` valid `days` (FLEETMON_API_TOKEN_DAYS by default); return the
    row and the plain token, which is never stored."""
    days = settings.FLEETMON_API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a token lives between 1 and {MAX_DAYS} days, not {days}")
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name (what will use it)")
    if not user.is_active:
        raise ValueError(f"user {user.get_username()} is not active")
    plain = ApiToken.PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            token_hash=token_hash(plain),
            hint=plain[:10],
            expires_at=timezone.now() + timedelta(days=days),
        )
    return token, plain


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
