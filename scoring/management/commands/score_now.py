import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scoring.models import ScoringRun
from scoring.services.features import features_refresh, window_floor
from scoring.services.runs import NothingToScore, run_create, run_progress, run_shard_ids
from scoring.tasks import score_shard_task


class Command(BaseCommand):
    help = (
        "Start an on-demand scoring run (one model kind or all, one device or all) and follow it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", action="append", help="model kind (repeatable); default all")
        parser.add_argument("--device", default="", help="score only this device")
        parser.add_argument("--no-wait", action="store_true")

    def handle(self, *args, kind, device, no_wait, **options):
        now = timezone.now()
        features_refresh(now=now)
        try:
            run = run_create(
                trigger=ScoringRun.Trigger.ON_DEMAND,
                window_end=window_floor(now, 15),
                requested_by="cli",
                kinds=tuple(kind) if kind else None,
                device_id=device,
            )
        except NothingToScore as exc:
            raise CommandError(str(exc)) from exc
        for shard_id in run_shard_ids(run):
            score_shard_task.delay(shard_id)
        self.stdout.write(f"run {run.pk}: {run.shards.count()} shards dispatched")
        while not no_wait:
            run.refresh_from_db()
            progress = run_progress(run)
            bar = "#" * int(progress["fraction"] * 30)
            self.stdout.write(f"\r[{bar:<30}] {progress['done']}/{progress['shards']}", ending="")
            self.stdout.flush()
            if run.finished_at:
                self.stdout.write(
                    f"\nrun {run.pk} {run.status}: {run.devices_scored} scored, "
                    f"{run.devices_skipped} skipped, {run.rows_written} rows"
                )
                if run.error:
                    self.stderr.write(run.error)
                break
            time.sleep(1)
