from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Three-layer monitoring, drift, retraining triggers, SLAs, dashboards (issue #6)."""

    name = "monitoring"
