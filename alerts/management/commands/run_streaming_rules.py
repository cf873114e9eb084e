import signal
import socket
import time

from django.core.management.base import BaseCommand

from alerts.streaming import StreamingWorker


class Command(BaseCommand):
    help = (
        "Run a streaming rules worker on the readings stream. Give each worker its own "
        "partitions; a second one on the same partitions is a standby. SIGTERM stops it "
        "after the message at hand."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--name",
            default=f"{socket.gethostname()}-rules",
            help="consumer name: keep it across restarts, so a restart takes back its messages",
        )
        parser.add_argument("--partitions", type=int, nargs="*", help="default: all")
        parser.add_argument(
            "--claim-idle-ms",
            type=int,
            default=30_000,
            help="take over a dead worker's messages after this long",
        )

    def handle(self, *args, name, partitions, claim_idle_ms, **options):
        worker = StreamingWorker(consumer=name, partitions=partitions, claim_idle_ms=claim_idle_ms)
        stopping: list[float] = []

        def stop(signum, frame):
            stopping.append(time.monotonic())
            worker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"streaming rules worker {name} on partitions {worker.partitions}")
        self.stdout.flush()
        worker.run()
        if stopping:
            self.stdout.write(f"stopped in {time.monotonic() - stopping[0]:.1f} s")
