from django.core.management.base import BaseCommand, CommandError

from fleetmon.registry.models import FleetToken
from fleetmon.registry.services import fleet_token_create


class Command(BaseCommand):
    help = "Create a fleet token for a gateway and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="a unique name for the gateway or fleet")
        parser.add_argument(
            "--replace", action="store_true", help="delete an existing token of that name first"
        )

    def handle(self, *args, name: str, replace: bool, **options):
        name = name.strip()
        if not name:
            raise CommandError("The token name must not be empty.")
        if replace:
            FleetToken.objects.filter(name=name).delete()
        if FleetToken.objects.filter(name=name).exists():
            raise CommandError(f"A fleet token named {name!r} already exists.")
        _, plain = fleet_token_create(name=name)
        self.stdout.write(plain)
