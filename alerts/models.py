"""The alert ontology (contract C6, domain §7.1): alerts and their audit trail."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper


class Severity(models.TextChoices):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class AlertType(models.TextChoices):
    DETECTED = "ANOMALY_DETECTED"
    SUSTAINED = "ANOMALY_SUSTAINED"
    ESCALATED = "ANOMALY_ESCALATED"
    RESOLVED = "ANOMALY_RESOLVED"


class AlertStatus(models.TextChoices):
    """Decision D1: lowercase everywhere."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


ACTIVE_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS)


class DeviceAlert(models.Model):
    class Source(models.TextChoices):
        BATCH = "batch"
        STREAMING = "streaming"
        FALLBACK = "fallback"

    alert_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    device = models.ForeignKey(
        "registry.Device", on_delete=models.PROTECT, db_column="device_id", related_name="alerts"
    )
    site = models.ForeignKey(
        "registry.Site", on_delete=models.PROTECT, db_column="site_id", related_name="alerts"
    )
    region = models.CharField(max_length=8, db_index=True)  # copied for scoped queries
    alert_type = models.CharField(max_length=24, choices=AlertType.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    source = models.CharField(max_length=12, choices=Source.choices)
    title = models.CharField(max_length=200)
    description = models.TextField()
    model_id = models.CharField(max_length=64)  # or the streaming rule id
    models_flagging = ArrayField(models.CharField(max_length=64), default=list)
    anomaly_score = models.FloatField(null=True)
    top_contributors = ArrayField(models.TextField(), default=list)
    contributor_scores = ArrayField(models.FloatField(), default=list)
    dedup_key = models.CharField(max_length=200)  # device | model or rule | first contributor
    window_end = models.DateTimeField(null=True)  # the scored window (batch)
    first_detected_at = models.DateTimeField()
    alert_created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    suppressed = models.BooleanField(default=False)
    suppressed_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressed_alerts"
    )
    ontology_action_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.CharField(max_length=2, default="L1")
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.CharField(max_length=150, blank=True)
    sla_deadline = models.DateTimeField()
    sla_breached = models.BooleanField(default=False)
    recheck_until = models.DateTimeField(null=True, blank=True)  # D5: re-checked for 24 h
    storm = models.ForeignKey(
        "StormIncident", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    # Firings of the same fault merged into this alert while it is active (issue 11 item 5):
    # each repeat is a suppressed row (D6) and an event here, never a second visible alert.
    occurrences = models.PositiveIntegerField(default=1)
    # Shelved (ISA-18.2, alerts.shelving): out of the active queue and silent until then;
    # who shelved it and why are its "shelved" event.
    shelved_until = models.DateTimeField(null=True, blank=True)
    # Raised inside a maintenance window (alerts.maintenance_windows): stored suppressed by it.
    maintenance_window = models.ForeignKey(
        "MaintenanceWindow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )

    class Meta:
        db_table = "device_alerts"
        ordering = ["-alert_created_at"]
        indexes = [
            models.Index(fields=["dedup_key", "-alert_created_at"], name="alert_dedup"),
            models.Index(fields=["status", "severity", "sla_deadline"], name="alert_queue"),
            models.Index(fields=["device", "-alert_created_at"], name="alert_device"),
            # Queue text search: icontains compares UPPER(title), so the trigram index is
            # on that expression (0.35-1.5 s -> 0.13-0.16 s on a million alerts).
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="alert_title_trgm"),
        ]
        constraints = [
            # A batch run writes at most one alert per device, dedup key and window: reruns
            # of a run are harmless.
            models.UniqueConstraint(
                fields=["dedup_key", "window_end"],
                condition=models.Q(source="batch"),
                name="alert_batch_window_unique",
            ),
            # A streaming firing is identified by its rule and reading time: a worker that
            # re-processes a message it had not acknowledged raises nothing twice.
            models.UniqueConstraint(
                fields=["dedup_key", "first_detected_at"],
                condition=models.Q(source="streaming"),
                name="alert_streaming_firing_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.title}"


class AlertEvent(models.Model):
    """Every change of an alert: who, when, what, and why. The status timeline."""

    alert = models.ForeignKey(DeviceAlert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)  # created | sustained | escalated | resolved | ...
    actor = models.CharField(max_length=150)  # a username, or "scoring" / "streaming"
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind} by {self.actor}"


class ThresholdScope(models.TextChoices):
    DEVICE = "device"
    COHORT = "cohort"


class RuleThreshold(models.Model):
    """A streaming-rule threshold set for a cohort or a device (the default lives in code).

    The effective value for a device is its own, else its cohort's, else the default of
    scoring.streaming.rules.Thresholds.
    """

    parameter = models.CharField(max_length=48)
    scope = models.CharField(max_length=8, choices=ThresholdScope.choices)
    cohort = models.ForeignKey("registry.Cohort", null=True, blank=True, on_delete=models.CASCADE)
    device = models.ForeignKey("registry.Device", null=True, blank=True, on_delete=models.CASCADE)
    value = models.FloatField()
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["parameter", "cohort"],
                condition=models.Q(scope="cohort"),
                name="threshold_cohort_unique",
            ),
            models.UniqueConstraint(
                fields=["parameter", "device"],
                condition=models.Q(scope="device"),
                name="threshold_device_unique",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="cohort", cohort__isnull=False, device__isnull=True)
                    | models.Q(scope="device", device__isnull=False, cohort__isnull=True)
                ),
                name="threshold_scope_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parameter}={self.value} ({self.scope} {self.cohort_id or self.device_id})"


class ThresholdHistory(models.Model):
    """`threshold_history` (domain §11): every change, who, when, old, new and why."""

    parameter = models.CharField(max_length=48)
    scope = models.CharField(max_length=8, choices=ThresholdScope.choices)
    cohort_id = models.CharField(max_length=64, blank=True)
    device_id = models.CharField(max_length=64, blank=True)
    old_value = models.FloatField(null=True)  # null: there was no override (the default held)
    new_value = models.FloatField(null=True)  # null: the override was removed
    changed_by = models.CharField(max_length=150)
    changed_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        db_table = "threshold_history"
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.parameter} {self.old_value} -> {self.new_value} by {self.changed_by}"


class StormIncident(models.Model):
    """Many CRITICAL alerts in a few minutes across a site or the fleet, seen as one item
    (runbook 4 of domain §5.6: decide between a real event and miscalibration)."""

    class Scope(models.TextChoices):
        SITE = "site"
        FLEET = "fleet"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    site = models.ForeignKey("registry.Site", null=True, blank=True, on_delete=models.PROTECT)
    region = models.CharField(max_length=8, blank=True)
    started_at = models.DateTimeField()
    last_alert_at = models.DateTimeField()
    alert_count = models.IntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    runbook = models.CharField(max_length=64, default="streaming-alert-storm")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        where = self.site_id or "fleet"
        return f"storm at {where}: {self.alert_count} CRITICAL alerts from {self.started_at:%H:%M}"


class SiteOfflineIncident(models.Model):
    """Every device of a site silent together (a power loss, a cut line): one incident for
    the site, seen by operators as its one HIGH alert (`alert`), closed when they report."""

    site = models.ForeignKey(
        "registry.Site", on_delete=models.PROTECT, related_name="offline_incidents"
    )
    region = models.CharField(max_length=8)
    silent_since = models.DateTimeField()  # the site's last reading before the silence
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    device_ids = ArrayField(models.CharField(max_length=32))
    alert = models.OneToOneField(
        DeviceAlert,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="site_offline_incident",
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open incident per site: a rerun of the check never opens a second one.
            models.UniqueConstraint(
                fields=["site"],
                condition=models.Q(closed_at__isnull=True),
                name="site_offline_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.site_id} offline since {self.silent_since:%Y-%m-%d %H:%M}"


class MaintenanceEvent(models.Model):
    """A maintenance job on a device (domain §7.1), often scheduled from an alert (§7.3)."""

    class EventType(models.TextChoices):
        PREVENTIVE = "preventive"
        CORRECTIVE = "corrective"
        EMERGENCY = "emergency"

    class Priority(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        EMERGENCY = "emergency"

    event_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    device = models.ForeignKey(
        "registry.Device",
        on_delete=models.PROTECT,
        db_column="device_id",
        related_name="maintenance_events",
    )
    event_type = models.CharField(max_length=12, choices=EventType.choices)
    priority = models.CharField(max_length=12, choices=Priority.choices, default=Priority.MEDIUM)
    scheduled_date = models.DateTimeField()
    completed_date = models.DateTimeField(null=True, blank=True)
    technician_id = models.CharField(max_length=150, blank=True)
    work_description = models.TextField(blank=True)
    parts_replaced = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    triggered_by_alert = models.ForeignKey(
        DeviceAlert,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="maintenance_events",
    )
    pre_maintenance_anomaly_score = models.FloatField(null=True, blank=True)
    post_maintenance_anomaly_score = models.FloatField(null=True, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-scheduled_date"]

    def __str__(self) -> str:
        return f"{self.event_type} on {self.device_id} at {self.scheduled_date:%Y-%m-%d}"


class MaintenanceWindow(models.Model):
    """A time when a device, site, cohort or region is worked on: alerts raised inside it
    are stored suppressed by it and notify nobody (alerts.maintenance_windows)."""

    class Scope(models.TextChoices):
        DEVICE = "device"
        SITE = "site"
        COHORT = "cohort"
        REGION = "region"

    class Kind(models.TextChoices):
        ONE_OFF = "one_off"
        RECURRING = "recurring"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    device = models.ForeignKey("registry.Device", null=True, blank=True, on_delete=models.CASCADE)
    site = models.ForeignKey("registry.Site", null=True, blank=True, on_delete=models.CASCADE)
    cohort = models.ForeignKey("registry.Cohort", null=True, blank=True, on_delete=models.CASCADE)
    region = models.CharField(max_length=8, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    starts_at = models.DateTimeField()  # one-off: its start; recurring: from when it applies
    ends_at = models.DateTimeField(null=True, blank=True)  # recurring: null means for good
    weekdays = ArrayField(models.SmallIntegerField(), default=list, blank=True)  # 0 = Monday
    start_time = models.TimeField(null=True, blank=True)  # recurring: the region's local time
    end_time = models.TimeField(null=True, blank=True)  # at or before start_time: overnight
    reason = models.TextField()
    # The technician visit it was set for ("schedule maintenance"), if any.
    maintenance_event = models.ForeignKey(
        MaintenanceEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="windows"
    )
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        indexes = [models.Index(fields=["cancelled_at", "ends_at"], name="window_live")]

    def __str__(self) -> str:
        target = self.device_id or self.site_id or self.cohort_id or self.region
        return f"{self.kind} window on {self.scope} {target} from {self.starts_at:%Y-%m-%d %H:%M}"


class LabelEvent(models.Model):
    """C7 `label_events` (domain §2.8): ground truth for retraining and the FP rate (D9)."""

    class LabelType(models.TextChoices):
        FAILURE_CONFIRMED = "failure_confirmed"
        ANOMALY_CONFIRMED = "anomaly_confirmed"
        FALSE_POSITIVE = "false_positive"
        PLANNED_MAINTENANCE = "planned_maintenance"
        NORMAL_OPERATION = "normal_operation"

    class LabelSource(models.TextChoices):
        FIELD_ENGINEER = "field_engineer"
        MAINTENANCE_SYSTEM = "maintenance_system"
        OPERATOR_FEEDBACK = "operator_feedback"
        AUTOMATED_HEURISTIC = "automated_heuristic"

    device = models.ForeignKey(
        "registry.Device", on_delete=models.PROTECT, db_column="device_id", related_name="labels"
    )
    event_timestamp = models.DateTimeField()  # when the labelled behaviour happened
    label_type = models.CharField(max_length=24, choices=LabelType.choices)
    label_source = models.CharField(max_length=24, choices=LabelSource.choices)
    label_confidence = models.FloatField()
    labeled_at = models.DateTimeField()
    labeled_by = models.CharField(max_length=150)
    alert = models.ForeignKey(
        DeviceAlert, null=True, blank=True, on_delete=models.PROTECT, related_name="labels"
    )
    failure_mode = models.CharField(max_length=64, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        db_table = "label_events"
        ordering = ["-labeled_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(label_confidence__gte=0, label_confidence__lte=1),
                name="label_confidence_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label_type} on {self.device_id} ({self.label_source})"


class SavedView(models.Model):
    """A user's named set of triage-queue filters."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    filters = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique")]

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"


class NotificationPreference(models.Model):
    """How and from which severity a user wants to hear about alerts in their scope."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels = ArrayField(models.CharField(max_length=8, choices=Channel.choices), default=list)
    min_severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.HIGH)
    webhook_url = models.URLField(blank=True)
    on_call = models.BooleanField(default=False)  # receives every CRITICAL (domain §3.7)

    def __str__(self) -> str:
        return f"{self.user}: {','.join(self.channels)} from {self.min_severity}"


class Notification(models.Model):
    """One delivery of one alert to one recipient on one channel: sent, retried, recorded."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    alert = models.ForeignKey(DeviceAlert, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8)
    recipient = models.CharField(max_length=300)  # an e-mail address or a webhook URL
    reason = models.CharField(max_length=64)  # why this recipient: site team, on-call, ...
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.SmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    # 0 for the alert's first round; a shelved alert that comes back is notified again, in a
    # round named by the id of its "unshelved" event (alerts.shelving).
    round = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Re-running the routing for an alert never notifies anyone twice in one round.
            models.UniqueConstraint(
                fields=["alert", "channel", "recipient", "round"], name="notification_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} -> {self.recipient} ({self.channel}, {self.status})"
