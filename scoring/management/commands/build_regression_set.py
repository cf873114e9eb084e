from django.core.management.base import BaseCommand, CommandError

from scoring.services.validation import (
    REGRESSION_DATASET,
    RegressionSetExists,
    regression_set_build,
)


class Command(BaseCommand):
    help = f"Generate {REGRESSION_DATASET} once from the simulator (read-only afterwards)."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=1000)
        parser.add_argument(
            "--replace", action="store_true", help="rebuild it (only when the C3 schema changed)"
        )
        parser.add_argument("--if-missing", action="store_true", help="do nothing if it exists")

    def handle(self, *args, devices, replace, if_missing, **options):
        try:
            count = regression_set_build(devices=devices, replace=replace)
        except RegressionSetExists as exc:
            if if_missing:
                self.stdout.write(f"{REGRESSION_DATASET} is already there")
                return
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{REGRESSION_DATASET}: {count} devices")
