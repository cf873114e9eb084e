from django.apps import AppConfig


class QualityConfig(AppConfig):
    """Data contracts at the pipeline boundaries, quarantine, dead letter, dropout."""

    name = "quality"
