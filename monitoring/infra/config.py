"""The infrastructure and SLA monitors' settings, with their defaults.

Each is read from Django settings when set there (FLEETMON_ prefix, like every knob), so
tests and deployments move a threshold without code changes.
"""

from django.conf import settings

DEFAULTS = {
    # Job runs (domain §5.1)
    "FLEETMON_JOB_RUNTIME_RUNS": 20,  # the median is over this many previous successes ...
    "FLEETMON_JOB_RUNTIME_MIN_RUNS": 5,  # ... and applies from this many on
    "FLEETMON_JOB_RUNTIME_FACTOR": 2.0,
    "FLEETMON_JOB_DELAY_MINUTES": 15,
    "FLEETMON_JOB_LOOKBACK_DAYS": 7,  # jobs with no run for this long are not judged
    "FLEETMON_JOB_RUN_RETENTION_DAYS": 30,
    # Tasks whose output is always expected (rows convention in monitoring.jobs).
    "FLEETMON_JOBS_EXPECTING_ROWS": (
        "scoring.tasks.refresh_features_task",
        "scoring.tasks.scheduled_scoring_task",
        "quality.tasks.detect_dropout_task",
    ),
    # Scoring performance (domain §5.1)
    "FLEETMON_SCORING_LATENCY_P95_MINUTES": 30,
    "FLEETMON_SCORING_MIN_DEVICES_PER_MINUTE": 2000,
    "FLEETMON_SCORING_THROUGHPUT_MIN_SECONDS": 60,  # shorter runs are fast enough anyway
    # Heartbeats and queues
    "FLEETMON_WORKER_PING_TIMEOUT_SECONDS": 1.0,
    "FLEETMON_BEAT_HEARTBEAT_SECONDS": 180,  # beat sends sweep_runs_task every 10 s
    "FLEETMON_MONITOR_QUEUES": ("celery",),
    "FLEETMON_QUEUE_DEPTH_MAX": 1000,
    # Freshness (domain §3.4, §3.7)
    "FLEETMON_FRESHNESS_SEVERAL_LATE": 2,
    "FLEETMON_FEATURE_STORE_CRITICAL_MINUTES": 120,
    "FLEETMON_DROPOUT_SLACK_DEVICES": 100,  # §3.6 ops alarm
    "FLEETMON_DROPOUT_PAGE_DEVICES": 500,  # §3.7 page
    "FLEETMON_FRESHNESS_RETENTION_DAYS": 8,
    # SLAs (seed page)
    "FLEETMON_SLA_LATENCY_WINDOW_HOURS": 24,
    "FLEETMON_SLA_COVERAGE_WINDOW_HOURS": 24,
    "FLEETMON_SLA_AVAILABILITY_DAYS": 30,
    "FLEETMON_SLA_AVAILABILITY_GRACE_MINUTES": 30,
    "FLEETMON_SLA_FP_DAYS": 30,
    "FLEETMON_SLA_RETENTION_DAYS": 90,
}


def knob(name: str):
    """The setting `name`, or its default."""
    return getattr(settings, name, DEFAULTS[name])
