"""Features, the model registry, scores and the scoring run ledger.

`device_features` and `model_scores` are hypertables (their keys include the time
column); the rest are ordinary tables.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from scoring.features import AGGREGATES, DERIVED, OPERATING_FEATURES, STEADY_COUNT


class DeviceFeatures(models.Model):
    """C3: one row per device and clock-aligned window (15, 60 or 1440 minutes)."""

    pk = models.CompositePrimaryKey("device_id", "window_duration_minutes", "window_start")
    device_id = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    window_duration_minutes = models.SmallIntegerField()
    reading_count = models.IntegerField()
    sensor_completeness = models.FloatField()
    quality_flag_count = models.IntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "device_features"
        indexes = [
            models.Index(
                fields=["window_duration_minutes", "window_end"], name="features_window_end"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.device_id} {self.window_duration_minutes}m @ {self.window_start:%Y-%m-%d %H:%M}"
        )


# The feature columns, one nullable float each, named as scoring.features names them: the
# 44 of C3, then the operating-state ones.
for _name in [a.name for a in AGGREGATES] + list(DERIVED) + list(OPERATING_FEATURES):
    DeviceFeatures.add_to_class(_name, models.FloatField(null=True))
DeviceFeatures.add_to_class(STEADY_COUNT, models.IntegerField(null=True))


class ModelRole(models.TextChoices):
    DRAFT = "draft"
    SHADOW = "shadow"
    CANARY = "canary"
    PRODUCTION = "production"
    RETIRED = "retired"


class ModelVersion(models.Model):
    """A trained model: metadata in the row, the fitted detector in an artifact file."""

    model_id = models.CharField(max_length=64, unique=True)  # isolation_forest_v3
    kind = models.CharField(max_length=32)  # a key of scoring.detectors.registry.DETECTORS
    version = models.CharField(max_length=16)  # semver, e.g. 1.2.0
    role = models.CharField(max_length=16, choices=ModelRole.choices, default=ModelRole.DRAFT)
    granularity = models.CharField(max_length=16, default="fleet")  # fleet | cohort | device
    feature_names = ArrayField(models.CharField(max_length=64))
    window_minutes = models.SmallIntegerField(default=15)
    imputation_method = models.CharField(max_length=32, default="ffill_then_cohort_median")
    threshold = models.FloatField()
    params = models.JSONField(default=dict)
    training_statistics = models.JSONField(default=dict)
    cohort_medians = models.JSONField(default=dict)
    training_window_start = models.DateTimeField(null=True)
    training_window_end = models.DateTimeField(null=True)
    training_rows = models.IntegerField(default=0)
    training_devices = models.IntegerField(default=0)
    artifact_path = models.CharField(max_length=300)
    artifact_sha256 = models.CharField(max_length=64)
    artifact_format_version = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, default="system")
    promoted_at = models.DateTimeField(null=True)
    # The latest canary and regression reports (scoring.comparison), which gate promotion.
    validation = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["kind", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="model_kind_version_unique"),
            # At most one production version per kind: promotion swaps in one transaction.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(role="production"),
                name="one_production_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} ({self.role})"


class ModelVersionEvent(models.Model):
    """Audit of role changes: promotion, rollback, rejection, with who and why."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32)  # trained | promoted | rolled_back | rejected | ...
    from_role = models.CharField(max_length=16, blank=True)
    to_role = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.model_version.model_id} {self.action} by {self.actor}"


class FeatureBaseline(models.Model):
    """C3 companion `feature_baselines`: per-feature distribution per model version."""

    class Granularity(models.TextChoices):
        FLEET = "fleet"
        COHORT = "cohort"
        DEVICE = "device"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="baselines"
    )
    feature_name = models.CharField(max_length=64)
    granularity = models.CharField(max_length=8, choices=Granularity.choices)
    cohort_id = models.CharField(max_length=64, blank=True)
    device_id = models.CharField(max_length=64, blank=True)
    baseline_mean = models.FloatField(null=True)
    baseline_std = models.FloatField(null=True)
    baseline_p05 = models.FloatField(null=True)
    baseline_p25 = models.FloatField(null=True)
    baseline_p50 = models.FloatField(null=True)
    baseline_p75 = models.FloatField(null=True)
    baseline_p95 = models.FloatField(null=True)
    computed_at = models.DateTimeField()
    training_window_start = models.DateTimeField(null=True)
    training_window_end = models.DateTimeField(null=True)

    class Meta:
        db_table = "feature_baselines"
        indexes = [models.Index(fields=["model_version", "granularity", "feature_name"])]

    def __str__(self) -> str:
        return f"{self.feature_name} {self.granularity} {self.cohort_id or self.device_id}"


class ModelScore(models.Model):
    """C5 `model_scores`: one row per model version, device and scored window."""

    pk = models.CompositePrimaryKey("model_id", "device_id", "window_end")
    score_id = models.UUIDField(default=uuid.uuid4)
    device_id = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    model_id = models.CharField(max_length=64)
    model_version = models.CharField(max_length=16)
    granularity = models.CharField(max_length=16)
    deployment_role = models.CharField(max_length=16)  # production | canary | shadow
    anomaly_score = models.FloatField()
    anomaly_flag = models.BooleanField()
    threshold_used = models.FloatField()
    top_contributors = ArrayField(models.TextField(), null=True)
    contributor_scores = ArrayField(models.FloatField(), null=True)
    scored_at = models.DateTimeField()
    sensor_completeness = models.FloatField()
    run_id = models.BigIntegerField(null=True)

    class Meta:
        db_table = "model_scores"
        indexes = [models.Index(fields=["device_id", "-window_end"], name="scores_device_time")]

    def __str__(self) -> str:
        return f"{self.model_id} {self.device_id} {self.anomaly_score:.3f}"


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some models failed, the others wrote their scores
    FAILED = "failed"


class ScoringRun(models.Model):
    """The ledger of a batch scoring run: one row per run, one ScoringShard per piece."""

    class Trigger(models.TextChoices):
        HOURLY = "hourly"
        DAILY = "daily"
        ON_DEMAND = "on_demand"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    window_minutes = models.SmallIntegerField()
    window_end = models.DateTimeField()
    device_id = models.CharField(max_length=64, blank=True)  # on-demand run for one device
    requested_by = models.CharField(max_length=150, default="beat")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    devices_scored = models.IntegerField(default=0)
    devices_skipped = models.IntegerField(default=0)
    rows_written = models.IntegerField(default=0)
    alerts_created = models.IntegerField(default=0)
    alerted_at = models.DateTimeField(null=True)  # when score-to-alert finished for this run
    error = models.TextField(blank=True)
    comparison = models.JSONField(default=dict, blank=True)  # canary metrics per candidate

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} {self.trigger} {self.window_end:%Y-%m-%d %H:%M} {self.status}"


class ScoringShard(models.Model):
    """One model version scoring one device range within a run."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="shards")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT)
    deployment_role = models.CharField(max_length=16)
    device_from = models.CharField(max_length=64)
    device_to = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    attempts = models.SmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    devices_scored = models.IntegerField(default=0)
    devices_skipped = models.IntegerField(default=0)
    rows_written = models.IntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "model_version", "device_from"]

    def __str__(self) -> str:
        return f"shard {self.pk} of run {self.run_id}: {self.device_from}..{self.device_to}"


class RegressionFeatures(models.Model):
    """`regression_test_features_v1`: a fixed feature set every candidate must score (D11).

    Generated once by the simulator (`manage.py build_regression_set`), read-only after:
    a trigger refuses updates and deletes unless a rebuild asks for it explicitly.
    """

    dataset = models.CharField(max_length=64)
    device_id = models.CharField(max_length=64)
    cohort_id = models.CharField(max_length=64)
    case = models.CharField(max_length=40)  # normal, or the injected fault / edge case
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    values = models.JSONField()  # {feature name: value or null}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "regression_test_features"
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "device_id"], name="regression_device_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset} {self.device_id} ({self.case})"
