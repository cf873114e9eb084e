from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Three-layer monitoring, drift, retraining triggers, SLAs, dashboards (issue #6)."""

    name = "monitoring"

    def ready(self) -> None:
        # Model-layer metrics and monitors after every scoring run.
        from monitoring.model_health import connect_signals

        connect_signals()
