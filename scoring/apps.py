from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Features, model registry, detectors, batch scoring, streaming rules (issues #3, #4)."""

    name = "scoring"
