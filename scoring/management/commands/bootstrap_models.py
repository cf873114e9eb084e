from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scoring.management.commands.train_model import parse_until
from scoring.services.bootstrap import KINDS, BootstrapOutcome, models_bootstrap

COLUMNS = ("kind", "outcome", "version", "training windows", "reason")


class Command(BaseCommand):
    help = (
        "First deployment: features for the stored history, the regression set, and a "
        "production version of every model kind that has none. Idempotent. Prints what was "
        "and was not deployed, and why; exits 1 when a kind asked for is not deployed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=float, default=2.0, help="history to compute features for"
        )
        parser.add_argument(
            "--until",
            help="train as of this time (ISO 8601 with an offset, e.g. 2026-11-25T12:00:00Z); "
            "default: now",
        )
        parser.add_argument(
            "--kinds",
            nargs="+",
            metavar="KIND",
            help=f"the kinds to deploy (space- or comma-separated); default: {','.join(KINDS)}",
        )

    def handle(self, *args, days, until, kinds, **options):
        now = parse_until(until) if until is not None else timezone.now()
        if not days > 0:
            raise CommandError(f"--days must be positive, not {days:g}")
        wanted = _kinds(kinds)
        outcomes = models_bootstrap(now=now, days=days, kinds=wanted)
        self.stdout.write(table(outcomes))
        missing = [o.kind for o in outcomes if not o.deployed]
        if missing:
            raise CommandError(
                f"{len(missing)} of {len(outcomes)} model kinds not deployed: {', '.join(missing)}"
            )


def _kinds(given: list[str] | None) -> tuple[str, ...]:
    if not given:
        return KINDS
    kinds = tuple(dict.fromkeys(k.strip() for arg in given for k in arg.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        named = f"unknown {', '.join(unknown)}" if unknown else "names no kind"
        raise CommandError(f"--kinds {named}; known: {', '.join(KINDS)}")
    return kinds


def table(outcomes: list[BootstrapOutcome]) -> str:
    """Return the outcomes as a plain-text table, one kind a line."""
    rows = [
        (
            o.kind,
            str(o.outcome),
            o.model_id or "-",
            f"{o.training_rows:,}" if o.training_rows else "-",
            o.reason,
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in [COLUMNS, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
