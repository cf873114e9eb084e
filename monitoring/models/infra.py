"""Infrastructure layer (domain §5.1) and the system SLAs of the seed page.

`JobRun` is one execution of a Celery task (recorded by monitoring.jobs from Celery
signals), `FreshnessCheck` one freshness reading of one dataset (monitoring.freshness, kept
for the ops heatmap), `SlaMeasurement` one evaluation of one system SLA over its rolling
window (monitoring.sla). The three are append-only history, pruned by their periodic tasks.
"""

from django.db import models

__all__ = ["FreshnessCheck", "JobRun", "JobStatus", "SlaMeasurement"]


class JobStatus(models.TextChoices):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRIED = "retried"  # this execution asked for a retry; the retry is a new row


class JobRun(models.Model):
    """One execution of one Celery task: what ran, where, how long, how late, what it wrote."""

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=JobStatus.choices)
    worker = models.CharField(max_length=200, blank=True)  # the worker's node name
    beat = models.BooleanField(default=False)  # sent by celery beat
    retries = models.SmallIntegerField(default=0)  # the request's retry count
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    runtime_seconds = models.FloatField(null=True, blank=True)
    # What the task's return value says it wrote (monitoring.jobs.rows_from_result); null
    # when the task reports no count.
    rows = models.BigIntegerField(null=True, blank=True)
    # Beat tasks: when the schedule wanted it to run (monitoring.jobs.scheduled_for) and
    # how much later it started.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    delay_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "job_runs"
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["task_name", "-started_at"], name="job_run_task_time"),
            models.Index(fields=["started_at"], name="job_run_time"),
            models.Index(fields=["task_id"], name="job_run_task_id"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.status} @ {self.started_at:%Y-%m-%d %H:%M:%S}"


class FreshnessCheck(models.Model):
    """How late one dataset was at one check (domain §3.4, §3.7 ladder)."""

    dataset = models.CharField(max_length=48)
    checked_at = models.DateTimeField()
    latest_at = models.DateTimeField(null=True, blank=True)  # the dataset's freshness marker
    lateness_seconds = models.FloatField(null=True, blank=True)  # null: no data at all
    sla_seconds = models.FloatField()
    rows = models.BigIntegerField(null=True, blank=True)  # null: the row rule does not apply
    fresh = models.BooleanField()
    severity = models.CharField(max_length=8, blank=True)  # blank when fresh

    class Meta:
        db_table = "freshness_checks"
        ordering = ["-checked_at", "dataset"]
        indexes = [models.Index(fields=["checked_at", "dataset"], name="freshness_time")]

    def __str__(self) -> str:
        state = "fresh" if self.fresh else f"late {self.severity}"
        return f"{self.dataset} {state} @ {self.checked_at:%Y-%m-%d %H:%M}"


class SlaMeasurement(models.Model):
    """One system SLA measured over its rolling window ending `window_end`."""

    sla = models.CharField(max_length=32)  # a key of monitoring.sla.SLAS
    measured_at = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)  # null: nothing to measure in the window
    target = models.FloatField()
    met = models.BooleanField(null=True, blank=True)  # null with the value
    details = models.JSONField(default=dict, blank=True)  # counts behind the value

    class Meta:
        db_table = "sla_measurements"
        ordering = ["-window_end", "sla"]
        indexes = [models.Index(fields=["sla", "-window_end"], name="sla_measurement_trend")]

    def __str__(self) -> str:
        state = {True: "met", False: "BREACHED", None: "no data"}[self.met]
        return f"{self.sla} {state} @ {self.window_end:%Y-%m-%d %H:%M}"
