from django.apps import AppConfig


class FleetmonConfig(AppConfig):
    """The project package: system checks, home page and shared API glue."""

    name = "fleetmon"

    def ready(self) -> None:
        from fleetmon import checks  # noqa: F401  (registers the system checks)
