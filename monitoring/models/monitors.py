"""Monitor alerts: pipeline, data, model and SLA problems, kept apart from the equipment
alerts operators triage (domain §3.7: other routes, other people, other runbooks)."""

from django.db import models

from alerts.models import Severity

__all__ = ["MonitorAlert", "MonitorLayer", "MonitorStatus"]


class MonitorLayer(models.TextChoices):
    INFRASTRUCTURE = "infrastructure"  # jobs, freshness, heartbeats, queues (§5.1)
    DATA = "data"  # drift, nulls, flags, completeness, skew (§5.2)
    MODEL = "model"  # scores, agreement, FP rate (§5.3)
    SLA = "sla"  # the five system SLAs of the seed page


class MonitorStatus(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"


class MonitorAlert(models.Model):
    """One monitor firing about one subject. While it keeps firing, the open row is updated
    (last_seen_at, occurrences, the worst severity) rather than a new row raised."""

    monitor = models.CharField(max_length=64)  # e.g. job_failed, dataset_stale, sla_breach
    layer = models.CharField(max_length=16, choices=MonitorLayer.choices)
    subject = models.CharField(max_length=200)  # the job, dataset, feature, model or SLA
    severity = models.CharField(max_length=8, choices=Severity.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True)  # the numbers that made it fire
    runbook = models.CharField(max_length=64, blank=True)  # slug under docs/runbooks/
    routed_to = models.CharField(max_length=200, blank=True)  # who hears of it (§3.7)
    status = models.CharField(
        max_length=8, choices=MonitorStatus.choices, default=MonitorStatus.OPEN
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    occurrences = models.IntegerField(default=1)
    # The severity people were last told of: telling again only when it rises.
    notified_severity = models.CharField(max_length=8, blank=True)

    class Meta:
        db_table = "monitor_alerts"
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "subject"],
                condition=models.Q(status="open"),
                name="monitor_alert_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.monitor} {self.subject}"
