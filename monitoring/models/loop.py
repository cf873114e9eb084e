"""The continual-learning loop's ledger: one row per retraining trigger (domain §5.7, D15),
from the firing with its evidence to the outcome (promoted, rejected, escalated, ...)."""

from django.db import models

__all__ = ["RetrainingTrigger", "TriggerAction", "TriggerKind", "TriggerStatus"]


class TriggerKind(models.TextChoices):
    FEATURE_DRIFT = "feature_drift", "Feature drift"
    ANOMALY_RATE_DRIFT = "anomaly_rate_drift", "Anomaly rate drift"
    AGREEMENT_DECLINE = "agreement_decline", "Agreement decline"
    FP_SPIKE = "fp_spike", "False-positive spike"
    FLEET_CHANGE = "fleet_change", "Fleet change"
    CALENDAR = "calendar", "Calendar"
    # Not in the §5.7 table, but the loop's own trigger (seed page, §5.8): concept drift
    # shows first as alerts that stop leading to maintenance (§5.2).
    HIT_RATE_DECLINE = "hit_rate_decline", "Falling hit rate"
    MANUAL = "manual", "Manual"


class TriggerAction(models.TextChoices):
    RETRAIN = "retrain", "Retrain"
    BASELINE_UPDATE = (
        "baseline_update",
        "Baseline update",
    )  # seasonal drift: refresh baselines, keep the model
    ALERT_ML = "alert_ml", "Alert ML"  # tell the ML engineers; a person decides
    NONE = "none", "None"


class TriggerStatus(models.TextChoices):
    FIRED = "fired"
    RETRAINING = "retraining"
    CANDIDATE_READY = (
        "candidate_ready",
        "Candidate in canary",
    )  # the candidate is canary, waiting for its runs
    PROMOTED = "promoted"
    REJECTED = "rejected"
    ESCALATED = "escalated"  # the ML engineers were told; a person decides
    SKIPPED = "skipped"
    BASELINE_UPDATED = "baseline_updated", "Baseline updated"


class RetrainingTrigger(models.Model):
    """One firing of a retraining trigger and what the loop made of it.

    Open (finished_at null) while in progress: a retrain until its candidate is promoted or
    rejected; an alert-ML trigger until its condition clears. At most one open row per
    trigger kind and model kind, so a condition that persists fires once.
    """

    trigger_kind = models.CharField(max_length=24, choices=TriggerKind.choices)
    model_kind = models.CharField(max_length=32)  # a detector kind, or "all"
    fired_at = models.DateTimeField()
    evidence = models.JSONField(default=dict, blank=True)  # the numbers that made it fire
    summary = models.CharField(max_length=300)  # one line a person reads first
    automated = models.BooleanField(default=True)  # fired by a check (False: by a person)
    requested_by = models.CharField(max_length=150, default="system")
    action = models.CharField(max_length=16, choices=TriggerAction.choices)
    # Training overrides for a manual retrain, e.g. {"threshold": 0.8} for a threshold fix.
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=TriggerStatus.choices, default=TriggerStatus.FIRED
    )
    candidate = models.ForeignKey(
        "scoring.ModelVersion",
        to_field="model_id",
        db_column="candidate_model_id",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retraining_triggers",
    )
    canary_since = models.DateTimeField(null=True, blank=True)
    outcome_reasons = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "retraining_triggers"
        ordering = ["-fired_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["trigger_kind", "model_kind"],
                condition=models.Q(finished_at__isnull=True),
                name="retraining_trigger_one_open",
            )
        ]
        indexes = [models.Index(fields=["status", "-fired_at"], name="retraining_trigger_status")]

    def __str__(self) -> str:
        return f"{self.trigger_kind} {self.model_kind} #{self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.finished_at is None
