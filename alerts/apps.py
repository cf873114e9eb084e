from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert ontology, triage workflow, thresholds, websocket push (issues #3-#5)."""

    name = "alerts"
