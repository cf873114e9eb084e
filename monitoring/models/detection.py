"""Detection evaluations: one row per replay of a labelled simulated fleet, with its scorecard
(monitoring.detection), the model versions and rule thresholds that produced it."""

from django.db import models
from django.utils import timezone

__all__ = ["DetectionEvaluation"]


class DetectionEvaluation(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Purpose(models.TextChoices):
        SCORECARD = "scorecard", "Scorecard"
        # D11 detection gate: a candidate's replay beside production's on a fixed seed.
        GATE_PRODUCTION = "gate_production", "Gate: production"
        GATE_CANDIDATE = "gate_candidate", "Gate: candidate"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.SCORECARD)
    candidate = models.CharField(max_length=64, blank=True)  # model_id, for a gate replay
    requested_by = models.CharField(max_length=150)
    seed = models.IntegerField()
    devices = models.IntegerField()
    history_days = models.FloatField()
    test_days = models.FloatField()
    config = models.JSONField(default=dict)
    model_versions = models.JSONField(default=dict)
    thresholds = models.JSONField(default=dict)
    bootstrap = models.JSONField(default=list)
    scorecard = models.JSONField(default=dict)
    timings = models.JSONField(default=dict)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Headline figures, copied out of the scorecard for trends and the dashboard.
    acute_recall = models.FloatField(null=True, blank=True)
    gradual_recall = models.FloatField(null=True, blank=True)
    gradual_lead_median_h = models.FloatField(null=True, blank=True)
    healthy_high_critical_per_device_day = models.FloatField(null=True, blank=True)
    d9_share = models.FloatField(null=True, blank=True)
    targets_met = models.IntegerField(null=True, blank=True)
    targets_measured = models.IntegerField(null=True, blank=True)

    class Meta:
        db_table = "detection_evaluations"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"detection evaluation {self.pk} (seed {self.seed}, {self.status})"
