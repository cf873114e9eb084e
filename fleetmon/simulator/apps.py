from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Synthetic fleet: seeded generator, fault injection with ground truth, backfill, live."""

    name = "fleetmon.simulator"
    label = "simulator"
