from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fleetmon.simulator.live import stream_live, utcnow_minute
from fleetmon.simulator.services import backfill, failures_record, simulation_prepare

# Faults are planned over the backfilled history and this much of the live future.
LIVE_FAULT_HORIZON = timedelta(days=7)


class Command(BaseCommand):
    help = (
        "Synthetic fleet. `setup` registers it and plans its faults and events; `backfill` "
        "writes N days of history through the contract (bulk path); `live` streams it through "
        "the HTTP API, continuing the same simulated trajectory."
    )

    def add_arguments(self, parser):
        parser.add_argument("mode", choices=["setup", "backfill", "live"])
        parser.add_argument("--devices", type=int, default=settings.FLEETMON_SIM_DEVICES)
        parser.add_argument("--seed", type=int, default=settings.FLEETMON_SIM_SEED)
        parser.add_argument("--days", type=float, default=2.0, help="history to backfill")
        parser.add_argument("--fault-fraction", type=float, default=0.05)
        parser.add_argument("--url", default=f"{settings.SITE_ROOT}/api/v1/ingest/")
        parser.add_argument("--token", help="fleet token for live mode")
        parser.add_argument("--speed", type=float, default=1.0, help="simulated minutes per minute")
        parser.add_argument("--minutes", type=int, help="stop after this many simulated minutes")

    def handle(self, *args, mode, devices, seed, days, fault_fraction, **options):
        if devices < 1:
            raise CommandError("--devices must be at least 1")
        if not 0 <= fault_fraction <= 1:
            raise CommandError("--fault-fraction must be between 0 and 1")
        now = utcnow_minute()
        history_start = now - timedelta(days=days)
        generator = simulation_prepare(
            devices=devices,
            seed=seed,
            start=history_start,
            end=now + LIVE_FAULT_HORIZON,
            fault_fraction=fault_fraction,
        )
        if mode == "backfill":
            self._backfill(generator, history_start, now)
        elif mode == "live":
            self._live(generator, now, options)
        else:
            self.stdout.write(
                f"fleet of {devices} devices (seed {seed}) registered, simulated from "
                f"{generator.origin:%Y-%m-%d %H:%M} UTC"
            )

    def _backfill(self, generator, start, end):
        def progress(upto, result):
            self.stdout.write(
                f"{upto:%Y-%m-%d %H:%M} accepted={result.accepted} flagged={result.flagged} "
                f"dead_lettered={result.dead_lettered} duplicates={result.duplicates}"
            )

        total = backfill(generator=generator, start=start, end=end, progress=progress)
        self.stdout.write(f"backfill done: accepted={total.accepted} duplicates={total.duplicates}")

    def _live(self, generator, now, options):
        if not options["token"]:
            raise CommandError("live mode needs --token (see `manage.py create_ingest_token`)")
        if options["speed"] <= 0:
            raise CommandError("--speed must be positive")

        def report(minute, totals):
            self.stdout.write(f"{minute:%H:%M} {totals}")
            if minute.minute == 0:
                failures_record(generator=generator)

        stream_live(
            generator=generator,
            url=options["url"],
            token=options["token"],
            start=now,
            speed=options["speed"],
            minutes=options["minutes"],
            on_minute=report,
        )
