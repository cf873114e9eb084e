import socket

from django.core.management.base import BaseCommand

from alerts.streaming import StreamingWorker


class Command(BaseCommand):
    help = "Run a streaming rules worker on the readings stream (several may run at once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default=f"{socket.gethostname()}-rules")
        parser.add_argument("--partitions", type=int, nargs="*", help="default: all")
        parser.add_argument(
            "--claim-idle-ms",
            type=int,
            default=30_000,
            help="take over a dead worker's messages after this long",
        )

    def handle(self, *args, name, partitions, claim_idle_ms, **options):
        worker = StreamingWorker(consumer=name, partitions=partitions, claim_idle_ms=claim_idle_ms)
        self.stdout.write(f"streaming rules worker {name} on partitions {worker.partitions}")
        worker.run()
