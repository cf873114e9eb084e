"""Model-layer monitoring results (domain §5.3, §5.4): metrics of every scoring run."""

from django.db import models

__all__ = ["ModelRunMetric", "RunMetric"]


class RunMetric(models.TextChoices):
    DEVICES = "devices"
    MEAN_SCORE = "mean_score"
    SCORE_STD = "score_std"
    SCORE_P95 = "score_p95"
    ANOMALY_RATE = "anomaly_rate"  # whole run, or per slice (cohort, region, equipment model)
    CONTAMINATION_TARGET = "contamination_target"
    SCORE_HISTOGRAM = "score_histogram"  # slice bin:NN, value = devices in the bin
    PAIRWISE_AGREEMENT = "pairwise_agreement"  # slice pair:<a>|<b> (model ids)
    UNANIMOUS_AGREEMENT = "unanimous_agreement"
    HIGH_SCORE_DISAGREEMENTS = "high_score_disagreements"
    FALSE_POSITIVE_RATE_30D = "fp_rate_30d"
    FALSE_POSITIVE_RATE_7D = "fp_rate_7d"
    HIT_RATE = "hit_rate"


class ModelRunMetric(models.Model):
    """One figure of one scoring run: per model version (model_id) or across the run's
    production models (model_id blank: agreement, FP rate, hit rate)."""

    run = models.ForeignKey(
        "scoring.ScoringRun", on_delete=models.CASCADE, related_name="model_metrics"
    )
    window_end = models.DateTimeField()  # the run's, copied for trend queries
    window_minutes = models.SmallIntegerField()
    model_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=32, blank=True)
    deployment_role = models.CharField(max_length=16, blank=True)
    metric = models.CharField(max_length=32, choices=RunMetric.choices)
    slice = models.CharField(max_length=140, blank=True)  # blank: the whole run
    value = models.FloatField(null=True)
    baseline = models.FloatField(null=True)  # what the monitor compared it with
    devices = models.IntegerField(default=0)  # the sample behind the value
    computed_at = models.DateTimeField()

    class Meta:
        db_table = "model_run_metrics"
        ordering = ["-window_end", "model_id", "metric", "slice"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "model_id", "metric", "slice"], name="model_run_metric_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["model_id", "metric", "slice", "window_end"], name="run_metric_trend"
            ),
            models.Index(fields=["metric", "window_end"], name="run_metric_by_time"),
        ]

    def __str__(self) -> str:
        what = "/".join(p for p in (self.model_id, self.metric, self.slice) if p)
        return f"run {self.run_id} {what} = {self.value}"
