from django.core.management.base import BaseCommand, CommandError

from scoring.detectors.registry import DETECTORS
from scoring.services.registry import RegistryError, model_set_role
from scoring.services.training import TrainingFailed, model_train


class Command(BaseCommand):
    help = "Train a new version of a model from the stored features (a draft unless --promote)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(DETECTORS))
        parser.add_argument("--promote", action="store_true", help="make it the production version")
        parser.add_argument("--actor", default="cli")

    def handle(self, *args, kind, promote, actor, **options):
        try:
            version = model_train(kind=kind, actor=actor)
        except TrainingFailed as exc:
            raise CommandError(f"training {kind} failed: {exc}") from exc
        self.stdout.write(
            f"{version.model_id} trained on {version.training_rows} windows "
            f"of {version.training_devices} devices"
        )
        if promote:
            try:
                model_set_role(
                    version=version, role="production", actor=actor, reason="cli --promote"
                )
            except RegistryError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{version.model_id} is now in production")
