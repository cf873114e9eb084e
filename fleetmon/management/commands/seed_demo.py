from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from fleetmon.accounts.models import Profile, Role
from fleetmon.registry.services import equipment_profiles_seed

# username -> (role, regions): two operators of different regions, one of each other role.
DEMO_USERS = {
    "operator_a": (Role.OPERATOR, ["US-W"]),
    "operator_b": (Role.OPERATOR, ["US-E"]),
    "ml_engineer": (Role.ML_ENGINEER, []),
    "manager": (Role.MANAGER, []),
    "admin": (Role.ADMIN, []),
}


class Command(BaseCommand):
    help = (
        "Create the demo logins operator_a (US-W), operator_b (US-E), ml_engineer, manager "
        "and admin, with the password FLEETMON_DEMO_PASSWORD, and the default equipment "
        "profiles of the four demo models (kept if already there). Idempotent."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        user_model = get_user_model()
        for username, (role, regions) in DEMO_USERS.items():
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@fleetmon.example"}
            )
            user.is_staff = user.is_superuser = role == Role.ADMIN
            user.set_password(settings.FLEETMON_DEMO_PASSWORD)
            user.save()
            Profile.objects.update_or_create(
                user=user, defaults={"role": role, "regions": regions, "sites": []}
            )
            where = ", ".join(regions) or "whole fleet"
            self.stdout.write(f"{username}: {role} ({where})")
        for model in equipment_profiles_seed(actor="seed_demo"):
            self.stdout.write(f"equipment profile {model}: created")
