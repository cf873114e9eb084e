import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from quality.checks.readings import TIMESTAMP_NAIVE
from quality.ingest import IngestResult, ingest_messages
from quality.loaders import FileFormatError, batches, read_messages

MAX_ERRORS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Load raw device messages from NDJSON or CSV files through the ingest contract. "
        "Exits 1 when any row was rejected (valid rows are still stored). With --backfill "
        "the files are recorded history: device timestamps are kept however old, future "
        "ones are rejected, and nothing goes to the streaming rules."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument(
            "--assume-utc",
            action="store_true",
            help=(
                "read timestamps without a UTC offset as UTC (CSV exports often carry none); "
                "without it such rows are rejected, as on the API"
            ),
        )
        parser.add_argument("--format", choices=["ndjson", "csv"], help="default: by extension")
        parser.add_argument("--batch-size", type=int, default=settings.FLEETMON_INGEST_MAX_BATCH)
        parser.add_argument(
            "--backfill",
            action="store_true",
            help=(
                "import history as recorded: trust device timestamps (no CLOCK_DRIFT), refuse "
                "those more than FLEETMON_BACKFILL_FUTURE_MINUTES after the load time, and "
                "keep the readings off the readings stream"
            ),
        )

    def handle(self, *args, files, format, batch_size, backfill, assume_utc, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        # Every file is checked before any is loaded, so a typo in the last name does not
        # leave the first files loaded and the rest not.
        for path in files:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        total = IngestResult()
        shown = naive = 0
        # One load time for the whole command: a backfill's future limit does not move
        # while a large file loads.
        loaded_at = timezone.now()
        for path in files:
            fmt = format or ("csv" if path.suffix.lower() == ".csv" else "ndjson")
            try:
                messages = read_messages(path, fmt, assume_utc=assume_utc)
                for chunk in batches(messages, batch_size):
                    lines = [number for number, _ in chunk]
                    result = ingest_messages(
                        messages=[m for _, m in chunk],
                        received_at=loaded_at if backfill else None,
                        backfill=backfill,
                    )
                    for error in result.errors:
                        naive += error.reason == TIMESTAMP_NAIVE
                        if shown < MAX_ERRORS_SHOWN:
                            where = f"{path}:{lines[error.index]}"
                            self.stderr.write(f"{where} {error.field or 'row'}: {error.reason}")
                        shown += 1
                    total.add(result)
            except FileFormatError as exc:
                raise CommandError(str(exc)) from exc
            except OSError as exc:
                raise CommandError(f"{path}: cannot be read ({exc.strerror})") from exc
        counts = {k: v for k, v in total.as_dict().items() if k != "errors"}
        self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
        if shown > MAX_ERRORS_SHOWN:
            self.stderr.write(f"({shown - MAX_ERRORS_SHOWN} more row errors not shown)")
        if naive:
            self.stderr.write(
                f"{naive} rows have a timestamp without a UTC offset; if the files' times "
                "are UTC, load them again with --assume-utc (what is stored stays once)"
            )
        if total.rejected:
            self.stderr.write(f"{total.rejected} rows rejected; valid rows were stored")
            sys.exit(1)
