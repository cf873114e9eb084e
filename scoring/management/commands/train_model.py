from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from scoring.detectors.registry import DETECTORS
from scoring.services.registry import RegistryError, model_set_role
from scoring.services.training import TrainingFailed, model_train


def parse_until(value: str) -> datetime:
    """Return the UTC time an --until value names; refuse a naive or unparsable one."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--until {value!r} is not an ISO 8601 date-time (for example 2026-11-25T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise CommandError(
            f"--until {value!r} has no UTC offset; add Z or +hh:mm (for example "
            "2026-11-25T12:00:00Z)"
        )
    return moment.astimezone(UTC)


class Command(BaseCommand):
    help = "Train a new version of a model from the stored features (a draft unless --promote)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(DETECTORS))
        parser.add_argument("--promote", action="store_true", help="make it the production version")
        parser.add_argument("--actor", default="cli")
        parser.add_argument(
            "--until",
            help="train on the window ending then (ISO 8601 with an offset, e.g. "
            "2026-11-25T12:00:00Z); default: now",
        )

    def handle(self, *args, kind, promote, actor, until, **options):
        now = parse_until(until) if until is not None else None
        try:
            version = model_train(kind=kind, actor=actor, now=now)
        except TrainingFailed as exc:
            raise CommandError(f"training {kind} failed: {exc}") from exc
        self.stdout.write(
            f"{version.model_id} trained on {version.training_rows} windows "
            f"of {version.training_devices} devices, "
            f"{version.training_window_start:%Y-%m-%dT%H:%MZ} to "
            f"{version.training_window_end:%Y-%m-%dT%H:%MZ}"
        )
        if promote:
            try:
                model_set_role(
                    version=version, role="production", actor=actor, reason="cli --promote"
                )
            except RegistryError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{version.model_id} is now in production")
