from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo logins (password from FLEETMON_DEMO_PASSWORD). Idempotent."

    def handle(self, *args, **options):
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(
            username="admin", defaults={"email": "admin@fleetmon.example"}
        )
        admin.is_staff = admin.is_superuser = True
        admin.set_password(settings.FLEETMON_DEMO_PASSWORD)
        admin.save()
        self.stdout.write("admin")
