"""Data-layer monitoring results (domain §3.5, §3.6, §3.8, §5.2): hourly data-quality
metrics, the daily summary, and the training-serving skew checks."""

from django.db import models

__all__ = [
    "DataQualityDailySummary",
    "DataQualityHourly",
    "DataQualityMetric",
    "SkewCheckKind",
    "SkewReference",
    "TrainingServingSkew",
]


class DataQualityMetric(models.TextChoices):
    READINGS = "readings"  # rows landed in the hour (clean + quarantined + dead-lettered)
    NULL_RATE = "null_rate"  # key: sensor; share of clean readings with it null
    AVAILABILITY = "availability"  # key: sensor; share of reporting devices that sent it
    FLAG_RATE = "flag_rate"  # key: flag; share of landed rows carrying it
    QUARANTINE_RATE = "quarantine_rate"
    DEAD_LETTER_RATE = "dead_letter_rate"
    COMPLETENESS_MEDIAN = "completeness_median"  # median sensor_completeness, 60-min windows


class DataQualityHourly(models.Model):
    """One data-quality figure for one clock hour, with what it was compared with.

    `scope` is blank for the fleet, else an equipment model (null rates) or a cohort
    (completeness); `key` names the sensor or flag. `count` / `total` keep the numerator
    and denominator so longer periods pool them instead of averaging rates.
    """

    hour = models.DateTimeField()  # start of the hour
    metric = models.CharField(max_length=24, choices=DataQualityMetric.choices)
    scope = models.CharField(max_length=64, blank=True)
    key = models.CharField(max_length=64, blank=True)
    value = models.FloatField(null=True)
    count = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    baseline = models.FloatField(null=True)  # 7-day mean (nulls) or 30-day rate (flags)
    flagged = models.BooleanField(default=False)  # breached its §5.2 rule
    computed_at = models.DateTimeField()

    class Meta:
        db_table = "data_quality_hourly"
        ordering = ["-hour", "metric", "scope", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "scope", "key", "hour"], name="data_quality_hourly_unique"
            )
        ]
        indexes = [models.Index(fields=["hour", "metric"], name="dq_hourly_hour_metric")]

    def __str__(self) -> str:
        where = "/".join(p for p in (self.scope, self.key) if p)
        return f"{self.metric} {where} @ {self.hour:%Y-%m-%d %H:%M}"


class DataQualityDailySummary(models.Model):
    """`data_quality_daily_summary` (domain §3.8): one row per UTC day, kept for the
    year-over-year comparison of the anomaly-rate-spike runbook."""

    day = models.DateField(unique=True)
    total_readings = models.BigIntegerField()  # landed: clean + quarantined + dead-lettered
    clean_readings = models.BigIntegerField()
    flagged_readings = models.BigIntegerField()  # clean rows with at least one flag
    flag_counts = models.JSONField(default=dict)  # {flag: rows}
    quarantined = models.BigIntegerField()
    quarantine_rate = models.FloatField(null=True)
    dead_lettered = models.BigIntegerField()
    dead_letter_rate = models.FloatField(null=True)
    null_rates = models.JSONField(default=dict)  # {sensor: share of clean rows null}
    dropout_states = models.JSONField(default=dict)  # {state: active devices}, at compute time
    devices_reporting = models.IntegerField()
    completeness_median = models.FloatField(null=True)  # of the day's 1440-min windows
    computed_at = models.DateTimeField()

    class Meta:
        db_table = "data_quality_daily_summary"
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"data quality {self.day:%Y-%m-%d}: {self.total_readings} readings"


class SkewCheckKind(models.TextChoices):
    """The four checks of domain §3.5."""

    MEAN_SHIFT = "mean_shift"  # |serving mean - training mean| / training std
    RANGE_EXPANSION = "range_expansion"  # share outside [training min, training max]
    CORRELATION_CHANGE = "correlation_change"  # |serving corr - training corr| on a key pair
    NULL_RATE_DIVERGENCE = "null_rate_divergence"  # |serving - training| null rate


class TrainingServingSkew(models.Model):
    """One skew check of one feature (or key pair) of a production model version."""

    computed_at = models.DateTimeField()
    window_end = models.DateTimeField()  # serving windows ending in the hour before it
    model_id = models.CharField(max_length=64)
    check_kind = models.CharField(max_length=24, choices=SkewCheckKind.choices)
    feature = models.CharField(max_length=140)  # a feature, or "a|b" for a pair
    training_value = models.FloatField(null=True)
    serving_value = models.FloatField(null=True)
    statistic = models.FloatField(null=True)  # what is compared with the threshold
    threshold = models.FloatField()
    breached = models.BooleanField(default=False)
    serving_rows = models.IntegerField()

    class Meta:
        db_table = "training_serving_skew"
        ordering = ["-window_end", "model_id", "check_kind", "feature"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_id", "window_end", "check_kind", "feature"],
                name="training_serving_skew_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.check_kind} {self.model_id} {self.feature}"


class SkewReference(models.Model):
    """Training-side figures the model registry does not keep, measured once per version
    on the raw (pre-imputation) features of its training window: null rates and the
    correlations of the key sensor pairs."""

    model_id = models.CharField(max_length=64)
    statistic = models.CharField(max_length=16)  # null_rate | correlation
    name = models.CharField(max_length=140)  # feature, or "a|b"
    value = models.FloatField(null=True)
    rows = models.IntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        db_table = "skew_references"
        constraints = [
            models.UniqueConstraint(
                fields=["model_id", "statistic", "name"], name="skew_reference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_id} {self.statistic} {self.name}"
