from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fleetmon.accounts.models import ApiToken
from fleetmon.accounts.tokens import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it (it is shown only once; only its hash is "
        "stored). Scripts send it as `Authorization: Token fmu_...`."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="script", help="what will use it (default: script)")
        parser.add_argument(
            "--days", type=int, default=None, help="lifetime (default: FLEETMON_API_TOKEN_DAYS)"
        )
        parser.add_argument(
            "--revoke-all", action="store_true", help="revoke the user's live tokens first"
        )

    def handle(self, *args, username: str, name: str, days: int | None, revoke_all: bool, **o):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if revoke_all:
            for token in ApiToken.objects.filter(user=user, revoked_at__isnull=True):
                api_token_revoke(token=token)
        try:
            token, plain = api_token_create(user=user, name=name, days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC")
        self.stdout.write(plain)
