from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from scoring.features import WINDOW_MINUTES
from scoring.models import ModelRole, ModelVersion
from scoring.services.features import features_compute
from scoring.services.registry import RegistryError, model_set_role
from scoring.services.training import TrainingFailed, model_train, rules_fallback_ensure
from scoring.services.validation import RegressionSetExists, regression_set_build

KINDS = ("isolation_forest", "statistical_baseline", "cohort_isolation_forest", "daily_baseline")


class Command(BaseCommand):
    help = (
        "First deployment: features for the stored history, the regression set, and a "
        "production version of every model kind that has none. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=float, default=2.0, help="history to compute features for"
        )

    def handle(self, *args, days, **options):
        now = timezone.now()
        # Every window size, so the freshness monitors find each feature dataset filled.
        for minutes in WINDOW_MINUTES:
            rows = features_compute(minutes=minutes, start=now - timedelta(days=days), end=now)
            self.stdout.write(f"features: {rows} windows of {minutes} min")
        try:
            regression_set_build()
            self.stdout.write("regression feature set built")
        except RegressionSetExists:
            pass
        rules_fallback_ensure()
        for kind in KINDS:
            if ModelVersion.objects.filter(kind=kind, role=ModelRole.PRODUCTION).exists():
                continue
            try:
                version = model_train(kind=kind, actor="bootstrap", now=now)
                model_set_role(
                    version=version, role="production", actor="bootstrap", reason="first deployment"
                )
            except (TrainingFailed, RegistryError) as exc:
                self.stderr.write(f"{kind}: not deployed: {exc}")
                continue
            self.stdout.write(f"{version.model_id} in production ({version.training_rows} windows)")
