"""Monitoring results: per-feature drift metrics and one drift check per scope and window."""

from django.db import models

__all__ = ["DriftCheck", "DriftScope", "DriftSeverity", "FeatureDriftMetric"]


class DriftScope(models.TextChoices):
    FLEET = "fleet"
    COHORT = "cohort"


class DriftSeverity(models.TextChoices):
    """PSI bands of decision D8, plus `no_data` when a side had no non-null value."""

    NONE = "none"
    MODERATE = "moderate"
    SIGNIFICANT = "significant"
    NO_DATA = "no_data"


class FeatureDriftMetric(models.Model):
    """One feature's KS and PSI for one window, fleet-wide or in one cohort (domain §5.4)."""

    computed_at = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    window_minutes = models.SmallIntegerField()
    scope = models.CharField(max_length=8, choices=DriftScope.choices)
    cohort_id = models.CharField(max_length=64, blank=True)  # blank for the fleet
    feature_name = models.CharField(max_length=64)
    ks_statistic = models.FloatField(null=True)
    ks_p_value = models.FloatField(null=True)
    psi_value = models.FloatField(null=True)
    drift_severity = models.CharField(max_length=12, choices=DriftSeverity.choices)
    # This window breached the KS rule (statistic > 0.1 and p < 0.01) ...
    ks_exceeded = models.BooleanField(default=False)
    # ... and so did the two windows before it: the feature drifts (D8).
    drifting = models.BooleanField(default=False)
    n_baseline = models.IntegerField()
    n_current = models.IntegerField()
    null_baseline = models.IntegerField(default=0)
    null_current = models.IntegerField(default=0)

    class Meta:
        db_table = "feature_drift_metrics"
        ordering = ["-window_end", "scope", "cohort_id", "-ks_statistic"]
        constraints = [
            models.UniqueConstraint(
                fields=["window_minutes", "window_end", "scope", "cohort_id", "feature_name"],
                name="feature_drift_metric_unique",
            )
        ]
        indexes = [
            models.Index(fields=["feature_name", "scope", "window_end"], name="drift_feature_trend")
        ]

    def __str__(self) -> str:
        where = self.cohort_id or self.scope
        return f"{self.feature_name} {where} @ {self.window_end:%Y-%m-%d %H:%M}"


class DriftCheck(models.Model):
    """The D8 meta-check of one drift run per scope: with more than 30 % of the features
    drifting at once, suspect the pipeline or the baseline rather than the fleet."""

    computed_at = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    window_minutes = models.SmallIntegerField()
    scope = models.CharField(max_length=8, choices=DriftScope.choices)
    cohort_id = models.CharField(max_length=64, blank=True)
    features_total = models.IntegerField()  # features with data on both sides
    features_exceeded = models.IntegerField()  # KS breach in this window
    features_drifting = models.IntegerField()  # KS breach in 3 consecutive windows
    drifting_share = models.FloatField()
    pipeline_suspect = models.BooleanField(default=False)
    baseline_rows = models.IntegerField()
    current_rows = models.IntegerField()

    class Meta:
        db_table = "drift_checks"
        ordering = ["-window_end", "scope", "cohort_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["window_minutes", "window_end", "scope", "cohort_id"],
                name="drift_check_unique",
            )
        ]

    def __str__(self) -> str:
        flag = " SUSPECT" if self.pipeline_suspect else ""
        return f"drift {self.cohort_id or self.scope} @ {self.window_end:%Y-%m-%d %H:%M}{flag}"
