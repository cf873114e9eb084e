import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from quality.ingest import IngestResult, ingest_messages
from quality.loaders import FileFormatError, batches, read_messages

MAX_ERRORS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Load raw device messages from NDJSON or CSV files through the ingest contract. "
        "Exits 1 when any row was rejected (valid rows are still stored)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--format", choices=["ndjson", "csv"], help="default: by extension")
        parser.add_argument("--batch-size", type=int, default=settings.FLEETMON_INGEST_MAX_BATCH)

    def handle(self, *args, files, format, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        total = IngestResult()
        shown = 0
        for path in files:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            fmt = format or ("csv" if path.suffix.lower() == ".csv" else "ndjson")
            try:
                for chunk in batches(read_messages(path, fmt), batch_size):
                    lines = [number for number, _ in chunk]
                    result = ingest_messages(messages=[m for _, m in chunk])
                    for error in result.errors:
                        if shown < MAX_ERRORS_SHOWN:
                            where = f"{path}:{lines[error.index]}"
                            self.stderr.write(f"{where} {error.field or 'row'}: {error.reason}")
                        shown += 1
                    total.add(result)
            except FileFormatError as exc:
                raise CommandError(str(exc)) from exc
            except UnicodeDecodeError as exc:
                raise CommandError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        counts = {k: v for k, v in total.as_dict().items() if k != "errors"}
        self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
        if total.rejected:
            self.stderr.write(f"{total.rejected} rows rejected; valid rows were stored")
            sys.exit(1)
