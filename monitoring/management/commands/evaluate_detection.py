import json
import sys
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitoring.detection.replay import DEFAULT_START, EQUIPMENT_FAULTS, ReplayConfig
from monitoring.detection.report import labels_text, scorecard_text
from monitoring.detection.selectors import label_measures
from monitoring.detection.services import evaluation_run


class Command(BaseCommand):
    help = (
        "Replay a labelled simulated fleet through the real path (ingest, stream, rules worker, "
        "hourly and daily scoring, score-to-alert) in a scratch database, and print and store "
        "its detection scorecard. With --labels-days, print the same measures from real "
        "operator labels instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=200)
        parser.add_argument("--history-days", type=float, default=10.0)
        parser.add_argument("--test-days", type=float, default=3.0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--faults",
            default=",".join(EQUIPMENT_FAULTS),
            help="comma-separated fault types to inject (default: every equipment fault)",
        )
        parser.add_argument("--fault-fraction", type=float, default=0.25)
        parser.add_argument(
            "--start", default=DEFAULT_START.isoformat(), help="history start (ISO 8601, UTC)"
        )
        parser.add_argument(
            "--keep", action="store_true", help="keep the scratch database to inspect it"
        )
        parser.add_argument("--json", action="store_true", help="print the scorecard as JSON")
        parser.add_argument(
            "--labels-days",
            type=float,
            help="instead of a replay: measures from real labels over the last N days",
        )

    def handle(self, *args, **options):
        if options["labels_days"] is not None:
            if options["labels_days"] <= 0:
                raise CommandError("--labels-days must be positive")
            now = timezone.now()
            measures = label_measures(since=now - timedelta(days=options["labels_days"]), until=now)
            self.stdout.write(
                json.dumps(measures, indent=2) if options["json"] else labels_text(measures)
            )
            return
        config = self._config(options)
        evaluation = evaluation_run(config=config, requested_by="cli", progress=self._progress())
        self.stdout.write("")
        if options["json"]:
            self.stdout.write(json.dumps(evaluation.scorecard, indent=2))
        else:
            self.stdout.write(scorecard_text(evaluation.scorecard))
        self.stdout.write(
            f"\nevaluation {evaluation.pk}: seed {config.seed}, {config.devices} devices, "
            f"{config.history_days:g} + {config.test_days:g} days, "
            f"{evaluation.duration_seconds:.0f} s ({evaluation.timings}); models "
            + ", ".join(v["model_id"] for v in evaluation.model_versions.values())
        )
        failed = [b for b in evaluation.bootstrap if b["outcome"] == "not deployed"]
        for outcome in failed:
            self.stderr.write(f"not deployed: {outcome['kind']}: {outcome['reason']}")
        if config.keep:
            self.stdout.write(
                f"scratch database kept: {evaluation.config['scratch_database']} "
                "(DATABASE_URL=<that database> manage.py runserver to browse it)"
            )

    def _config(self, options) -> ReplayConfig:
        try:
            start = datetime.fromisoformat(options["start"])
        except ValueError:
            raise CommandError(f"--start {options['start']!r} is not an ISO 8601 time") from None
        if start.tzinfo is None:
            raise CommandError("--start needs a UTC offset, e.g. 2026-03-02T00:00:00+00:00")
        faults = tuple(f.strip() for f in options["faults"].split(",") if f.strip())
        try:
            return ReplayConfig(
                devices=options["devices"],
                history_days=options["history_days"],
                test_days=options["test_days"],
                seed=options["seed"],
                fault_types=faults,
                fault_fraction=options["fault_fraction"],
                start=start,
                keep=options["keep"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _progress(self):
        tty = sys.stdout.isatty()
        last = {"phase": None, "step": -1}

        def report(phase: str, done: float, note: str) -> None:
            step = int(done * 20)
            if phase == last["phase"] and step == last["step"] and not tty:
                return
            last.update(phase=phase, step=step)
            bar = "#" * int(done * 30)
            line = f"{phase:<9}[{bar:<30}] {done:4.0%} {note}"
            if tty:
                self.stdout.write("\r" + line.ljust(100), ending="")
                self.stdout.flush()
            else:
                self.stdout.write(line)

        return report
