"""FleetMon settings: one module, every knob read from the environment with a working default."""

import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import plotly
from celery.schedules import crontab


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def database_from_url(url: str) -> dict:
    """Turn `postgres://user:pass@host:port/name` into a Django DATABASES entry."""
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be a postgres:// URL, got {parts.scheme!r}")
    name = unquote(parts.path.lstrip("/"))
    return {
        # Django's, with a pool that follows NAME (fleetmon/postgres/base.py).
        "ENGINE": "fleetmon.postgres",
        "NAME": name,
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        # 0: each request or task hands its connection back (to the pool, see "database").
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", "0"),
        "CONN_HEALTH_CHECKS": True,
        # One test database per database name, so parallel checkouts never share one.
        "TEST": {"NAME": os.getenv("TEST_DATABASE_NAME", f"test_{name}")},
    }


BASE_DIR = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- core
SECRET_KEY = os.getenv("SECRET_KEY", "fleetmon-dev-only-secret-key-change-me-in-production")
DEBUG = envbool("DEBUG", "false")
ALLOWED_HOSTS = os.getenv("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
ROOT_URLCONF = "fleetmon.urls"
ASGI_APPLICATION = "fleetmon.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
SITE_ROOT = os.getenv("SITE_ROOT", "http://127.0.0.1:8000")

# ---------------------------------------------------------------- apps
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "fleetmon.apps.FleetmonConfig",
    "fleetmon.registry",
    "fleetmon.accounts",
    "fleetmon.readings",
    "fleetmon.simulator",
    "quality",
    "scoring",
    "alerts",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fleetmon.accounts.context_processors.profile",
            ]
        },
    }
]

# ---------------------------------------------------------------- database
DATABASE_URL = os.getenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5433/fleetmon")
DATABASES = {"default": database_from_url(DATABASE_URL)}
# Every process holds at most DB_POOL_MAX_SIZE connections (README "Running in production":
# sizing): under ASGI each request runs in a thread of its own, and a persistent connection
# per thread grew without bound. With CONN_HEALTH_CHECKS the pool tests a connection before
# handing it out, so one PostgreSQL dropped (failover, pg_terminate_backend) is replaced.
# DB_APPLICATION_NAME names the process in pg_stat_activity. DB_POOL_MAX_SIZE=0: no pool.
DB_POOL_MAX_SIZE = envint("DB_POOL_MAX_SIZE", "4")
DATABASES["default"]["OPTIONS"] = {"application_name": os.getenv("DB_APPLICATION_NAME", "fleetmon")}
if DB_POOL_MAX_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(envint("DB_POOL_MIN_SIZE", "1"), DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        # A request waits this long for a free connection, then fails (PoolTimeout).
        "timeout": float(os.getenv("DB_POOL_TIMEOUT", "10")),
        "max_idle": float(os.getenv("DB_POOL_MAX_IDLE", "60")),
    }

# ---------------------------------------------------------------- redis
REDIS_URL = os.getenv("REDIS_URL", "redis://127.0.0.1:6379/0")

# Detection replays (monitoring/detection) run in a Redis database of their own, emptied
# before and after each replay: never the live one.
FLEETMON_EVAL_REDIS_URL = os.getenv(
    "FLEETMON_EVAL_REDIS_URL", urlparse(REDIS_URL)._replace(path="/14").geturl()
)

# ---------------------------------------------------------------- celery
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.getenv("CELERY_RESULT_BACKEND", REDIS_URL)
# Task modules outside an app's tasks.py.
CELERY_IMPORTS = ("alerts.notifications.tasks",)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "detect-dropout-hourly": {
        "task": "quality.tasks.detect_dropout_task",
        "schedule": crontab(minute=5),
    },
    "refresh-features": {
        "task": "scoring.tasks.refresh_features_task",
        "schedule": crontab(minute="1,16,31,46"),
    },
    "score-hourly": {
        "task": "scoring.tasks.scheduled_scoring_task",
        "schedule": crontab(minute=2),
        "args": ("hourly",),
    },
    "score-daily": {
        "task": "scoring.tasks.scheduled_scoring_task",
        "schedule": crontab(hour=3, minute=10),
        "args": ("daily",),
    },
    # With FLEETMON_SHARD_STALE_SECONDS (15): a dead worker's shard is re-sent within 25 s.
    "sweep-scoring-runs": {"task": "scoring.tasks.sweep_runs_task", "schedule": 10.0},
    "auto-escalate-alerts": {"task": "alerts.tasks.auto_escalate_task", "schedule": 60.0},
    # Silence is no reading: a whole site gone quiet is found by looking, every minute.
    "site-offline-check": {"task": "alerts.tasks.site_offline_check_task", "schedule": 60.0},
    # Shelved alerts come back, and devices return to service, when their time is up.
    "shelve-expiry": {"task": "alerts.tasks.shelve_expiry_task", "schedule": 60.0},
    "out-of-service-expiry": {
        "task": "fleetmon.registry.tasks.out_of_service_expiry_task",
        "schedule": 60.0,
    },
    # Infrastructure monitors (jobs, heartbeats, queues), dataset freshness, system SLAs.
    "infra-monitors": {"task": "monitoring.tasks.infra_monitor_task", "schedule": 60.0},
    "freshness": {"task": "monitoring.tasks.freshness_task", "schedule": 60.0},
    "sla-measure": {
        "task": "monitoring.tasks.sla_measure_task",
        "schedule": crontab(minute="*/15"),
    },
    # Retraining triggers (domain §5.7, D15), each at the cadence of its check, and the review
    # that promotes or rejects candidates once their canary runs are in.
    "retraining-triggers-hourly": {
        "task": "monitoring.tasks.retraining_triggers_task",
        "schedule": crontab(minute=40),
        "kwargs": {"checks": ["anomaly_rate_drift"]},
    },
    "retraining-triggers-daily": {
        "task": "monitoring.tasks.retraining_triggers_task",
        "schedule": crontab(hour=4, minute=10),
        "kwargs": {"checks": ["feature_drift", "agreement_decline", "calendar"]},
    },
    "retraining-triggers-weekly": {
        "task": "monitoring.tasks.retraining_triggers_task",
        "schedule": crontab(day_of_week=1, hour=4, minute=20),
        "kwargs": {"checks": ["fp_spike", "hit_rate_decline"]},
    },
    "retraining-triggers-monthly": {
        "task": "monitoring.tasks.retraining_triggers_task",
        "schedule": crontab(day_of_month=1, hour=4, minute=30),
        "kwargs": {"checks": ["fleet_change"]},
    },
    "retraining-candidate-review": {
        "task": "monitoring.tasks.candidate_review_task",
        "schedule": crontab(minute=50),
    },
    # Data quality per hour (after drift at :20) and the daily summary.
    "data-quality-hourly": {
        "task": "monitoring.tasks.data_quality_hourly_task",
        "schedule": crontab(minute=30),
    },
    "data-quality-daily": {
        "task": "monitoring.tasks.data_quality_daily_task",
        "schedule": crontab(hour=0, minute=45),
    },
    # Feature drift (monitoring/drift.py) after the :16 feature refresh, and on daily windows.
    "drift-hourly": {
        "task": "monitoring.tasks.drift_task",
        "schedule": crontab(minute=20),
        "kwargs": {"minutes": 60},
    },
    "drift-daily": {
        "task": "monitoring.tasks.drift_task",
        "schedule": crontab(hour=3, minute=40),
        "kwargs": {"minutes": 1440},
    },
}

# ---------------------------------------------------------------- channels
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # TRICKY: redis-py 8 reads with a 5 s socket timeout, the same as channels-redis's
        # blocking pop: every idle consumer would then die at 5 s. Give reads more room.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
    }
}

# ---------------------------------------------------------------- auth, api
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Scripts and integrations: `Authorization: Token fmu_...` (manage.py create_api_token),
        # stored hashed and expiring (fleetmon/accounts/tokens.py).
        "fleetmon.accounts.authentication.UserTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SPECTACULAR_SETTINGS = {
    # Several models have a `status`; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "NotificationStatusEnum": "alerts.models.Notification.Status",
        "RunStatusEnum": "scoring.models.RunStatus",
        "AlertStatusEnum": "alerts.models.AlertStatus",
        "MaintenanceWindowKindEnum": "alerts.models.MaintenanceWindow.Kind",
        "DetectorKindEnum": "scoring.api.serializers.KINDS",
    },
    "TITLE": "FleetMon API",
    "DESCRIPTION": "Refrigeration fleet monitoring: ingest, alerts, scoring, monitoring.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# ---------------------------------------------------------------- static
STATIC_URL = "/static/"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js is served from the pinned plotly package (vendored, no CDN): one version
    # for the Python figures and the browser.
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

# ---------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}

# ---------------------------------------------------------------- FleetMon knobs
# Ingest limits: beyond them the API answers 413 naming the limit.
FLEETMON_INGEST_MAX_BODY_BYTES = envint("FLEETMON_INGEST_MAX_BODY_BYTES", str(8 * 1024 * 1024))
FLEETMON_INGEST_MAX_BATCH = envint("FLEETMON_INGEST_MAX_BATCH", "5000")
DATA_UPLOAD_MAX_MEMORY_SIZE = FLEETMON_INGEST_MAX_BODY_BYTES + 1
# How far back a replayed clock-drifted message is still recognised (Event Hubs keeps 7 days).
FLEETMON_DEDUP_HORIZON_HOURS = envint("FLEETMON_DEDUP_HORIZON_HOURS", str(7 * 24))
# A device clock further than this from the server clock is CLOCK_DRIFT (contract C2).
FLEETMON_CLOCK_DRIFT_HOURS = envint("FLEETMON_CLOCK_DRIFT_HOURS", "24")
# `load_readings --backfill` trusts device clocks but refuses readings stamped further than
# this after the load time (a clock running a little fast is tolerated).
FLEETMON_BACKFILL_FUTURE_MINUTES = envint("FLEETMON_BACKFILL_FUTURE_MINUTES", "5")
# Summer widening of the humidity range (domain §1.1): set to 105 when needed.
FLEETMON_HUMIDITY_MAX = float(os.getenv("FLEETMON_HUMIDITY_MAX", "100"))
FLEETMON_CHUNK_INTERVAL = os.getenv("FLEETMON_CHUNK_INTERVAL", "1 day")
FLEETMON_DEMO_PASSWORD = os.getenv("FLEETMON_DEMO_PASSWORD", "fleetmon-demo")
# Notifications (alerts/notifications): the team webhook (Slack-compatible JSON; empty: none),
# the sender address, and the delivery timeout and first retry wait.
FLEETMON_ALERT_WEBHOOK_URL = os.getenv("FLEETMON_ALERT_WEBHOOK_URL", "")
FLEETMON_ALERT_EMAIL_FROM = os.getenv("FLEETMON_ALERT_EMAIL_FROM", "fleetmon@localhost")
FLEETMON_NOTIFY_TIMEOUT_SECONDS = float(os.getenv("FLEETMON_NOTIFY_TIMEOUT_SECONDS", "5"))
FLEETMON_NOTIFY_RETRY_BASE_SECONDS = envint("FLEETMON_NOTIFY_RETRY_BASE_SECONDS", "30")
# Mail goes through Django's backend; the demo prints it to the worker log.
EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
FLEETMON_DROPOUT_MIN_READINGS_PER_HOUR = envint("FLEETMON_DROPOUT_MIN_READINGS_PER_HOUR", "30")
FLEETMON_DROPOUT_MAX_MEAN_NULLS = float(os.getenv("FLEETMON_DROPOUT_MAX_MEAN_NULLS", "4"))
FLEETMON_SIM_DEVICES = envint("FLEETMON_SIM_DEVICES", "1000")
FLEETMON_SIM_SEED = envint("FLEETMON_SIM_SEED", "42")
FLEETMON_SERVE_STATIC = envbool("FLEETMON_SERVE_STATIC", "true")
FLEETMON_ARTIFACT_DIR = os.getenv("FLEETMON_ARTIFACT_DIR", str(BASE_DIR / "var" / "artifacts"))
FLEETMON_TRAINING_DAYS = envint("FLEETMON_TRAINING_DAYS", "30")
FLEETMON_VALIDATION_HOURS = envint("FLEETMON_VALIDATION_HOURS", "6")
FLEETMON_TRAINING_GAP_HOURS = envint("FLEETMON_TRAINING_GAP_HOURS", "24")
FLEETMON_TRAINING_MIN_ROWS = envint("FLEETMON_TRAINING_MIN_ROWS", "200")
# Validation of a trained version: it may flag at most this share of healthy validation
# windows; and on the regression set it must flag the anomaly cases (faults visible within a
# 15-minute window) clearly more often than the normal ones: by MIN_LIFT (absolute) with a
# one-sided z of MIN_Z, judged when the set holds MIN_ANOMALY_CASES such windows.
# pressure_loss_acute, cooling_loss_total and compressor_vibration_spike name such faults in
# sets built before the simulator's rewrite.
FLEETMON_VALIDATION_MAX_RATE = float(os.getenv("FLEETMON_VALIDATION_MAX_RATE", "0.2"))
FLEETMON_VALIDATION_ANOMALY_CASES = [
    case.strip()
    for case in os.getenv(
        "FLEETMON_VALIDATION_ANOMALY_CASES",
        "compressor_overload,low_side_loss,cooling_loss,door_left_open,"
        "pressure_loss_acute,cooling_loss_total,compressor_vibration_spike",
    ).split(",")
    if case.strip()
]
FLEETMON_VALIDATION_MIN_ANOMALY_CASES = envint("FLEETMON_VALIDATION_MIN_ANOMALY_CASES", "10")
# 0.05: a model flagging 15 % of the acute-fault windows and 1 % of the normal ones
# (z 6.9) discriminates; one flagging 7 % and 4 % (z 1.0) does not.
FLEETMON_VALIDATION_MIN_LIFT = float(os.getenv("FLEETMON_VALIDATION_MIN_LIFT", "0.05"))
FLEETMON_VALIDATION_MIN_Z = float(os.getenv("FLEETMON_VALIDATION_MIN_Z", "2.33"))
FLEETMON_MODEL_VERSIONS_KEPT = envint("FLEETMON_MODEL_VERSIONS_KEPT", "3")
FLEETMON_SCORING_SHARD_SIZE = envint("FLEETMON_SCORING_SHARD_SIZE", "5000")
FLEETMON_SHARD_STALE_SECONDS = envint("FLEETMON_SHARD_STALE_SECONDS", "15")
FLEETMON_IMPUTATION_HISTORY_WINDOWS = envint("FLEETMON_IMPUTATION_HISTORY_WINDOWS", "4")
# A compressor drawing more than this is running (physics §1: at rest it draws next to
# nothing; the smallest commercial compressors draw a few amps running).
FLEETMON_RUNNING_CURRENT_A = float(os.getenv("FLEETMON_RUNNING_CURRENT_A", "1.0"))
FLEETMON_MIN_SCORING_COMPLETENESS = float(os.getenv("FLEETMON_MIN_SCORING_COMPLETENESS", "0.5"))
# D3 cut-offs: {"default": {...}, "<cohort_id>": {"critical": .., "high": .., "medium": ..}}
FLEETMON_SEVERITY_CUTOFFS = json.loads(os.getenv("FLEETMON_SEVERITY_CUTOFFS", "{}"))
# Severity of alerts the rules fallback raises when no model could score a device.
FLEETMON_FALLBACK_SEVERITY = os.getenv("FLEETMON_FALLBACK_SEVERITY", "MEDIUM")
FLEETMON_SHADOW_DAYS = envint("FLEETMON_SHADOW_DAYS", "7")
# D10: temperature alerts wait this long after a defrost ends.
FLEETMON_POST_DEFROST_MINUTES = envint("FLEETMON_POST_DEFROST_MINUTES", "30")
# Alarm delay: consecutive flagged windows before one model's non-critical flag alerts (1: none).
FLEETMON_ALERT_CONFIRM_WINDOWS = envint("FLEETMON_ALERT_CONFIRM_WINDOWS", "2")
# Shelving (alerts/shelving.py): "until the end of the shift" is the next of these local
# times in the site's time zone, which is its region's (a site has no zone of its own).
FLEETMON_SHIFT_BOUNDARIES = os.getenv("FLEETMON_SHIFT_BOUNDARIES", "06:00,14:00,22:00")
FLEETMON_REGION_TIMEZONES = {
    "US-W": "America/Los_Angeles",
    "US-C": "America/Chicago",
    "US-E": "America/New_York",
    "US-S": "America/Chicago",
    **json.loads(os.getenv("FLEETMON_REGION_TIMEZONES", "{}")),
}
# Readings stream for the streaming rules (Redis Streams).
FLEETMON_STREAM_PARTITIONS = envint("FLEETMON_STREAM_PARTITIONS", "4")
FLEETMON_STREAM_MAXLEN = envint("FLEETMON_STREAM_MAXLEN", "100000")
# D11 detection gate (monitoring/detection/gate.py): a candidate is replayed beside production
# on this fixed simulated fleet and may not detect fewer faults in time, raise more HIGH/
# CRITICAL alerts per healthy device-day (beyond the tolerance) or lose lead time.
FLEETMON_DETECTION_GATE_ENABLED = envbool("FLEETMON_DETECTION_GATE_ENABLED", "true")
FLEETMON_DETECTION_GATE_SEED = envint("FLEETMON_DETECTION_GATE_SEED", "7001")
FLEETMON_DETECTION_GATE_DEVICES = envint("FLEETMON_DETECTION_GATE_DEVICES", "60")
FLEETMON_DETECTION_GATE_HISTORY_DAYS = float(os.getenv("FLEETMON_DETECTION_GATE_HISTORY_DAYS", "2"))
FLEETMON_DETECTION_GATE_TEST_DAYS = float(os.getenv("FLEETMON_DETECTION_GATE_TEST_DAYS", "1"))
FLEETMON_DETECTION_GATE_FALSE_ALARM_TOLERANCE = float(
    os.getenv("FLEETMON_DETECTION_GATE_FALSE_ALARM_TOLERANCE", "0.02")
)
FLEETMON_DETECTION_GATE_LEAD_TOLERANCE_HOURS = float(
    os.getenv("FLEETMON_DETECTION_GATE_LEAD_TOLERANCE_HOURS", "2")
)
# Storm guard: more CRITICAL streaming alerts than this within the window become one incident.
FLEETMON_STORM_WINDOW_MINUTES = envint("FLEETMON_STORM_WINDOW_MINUTES", "5")
FLEETMON_STORM_SITE_THRESHOLD = envint("FLEETMON_STORM_SITE_THRESHOLD", "10")
FLEETMON_STORM_FLEET_THRESHOLD = envint("FLEETMON_STORM_FLEET_THRESHOLD", "100")
# Site offline (alerts/site_offline.py): every device of a site that reported within the
# lookback silent for the silence, at least the minimum of them within the together window.
FLEETMON_SITE_OFFLINE_SILENCE_MINUTES = envint("FLEETMON_SITE_OFFLINE_SILENCE_MINUTES", "10")
FLEETMON_SITE_OFFLINE_TOGETHER_MINUTES = envint("FLEETMON_SITE_OFFLINE_TOGETHER_MINUTES", "15")
FLEETMON_SITE_OFFLINE_MIN_DEVICES = envint("FLEETMON_SITE_OFFLINE_MIN_DEVICES", "2")
FLEETMON_SITE_OFFLINE_LOOKBACK_HOURS = envint("FLEETMON_SITE_OFFLINE_LOOKBACK_HOURS", "24")
# After a site-offline incident closes, batch model alerts on its devices wait out the restart
# pull-down (alerts/restart.py): the outage times d / (1 - d) for a device of duty d, within
# these bounds (the maximum also for a device whose duty is unknown).
FLEETMON_POST_OUTAGE_MIN_MINUTES = envint("FLEETMON_POST_OUTAGE_MIN_MINUTES", "60")
FLEETMON_POST_OUTAGE_MAX_MINUTES = envint("FLEETMON_POST_OUTAGE_MAX_MINUTES", "360")

# ---------------------------------------------------------------- security (issue 12)
# Production sets these from the environment (README "Running in production"); the defaults
# suit `make run` and the tests on one machine over plain HTTP.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "false")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "false")
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if envbool("FLEETMON_BEHIND_TLS_PROXY", "false"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The built-in SECRET_KEY is public, so fleetmon.E004 refuses it with DEBUG off, unless the
# site answers to local names only (the default ALLOWED_HOSTS: `make run`, the tests) or this
# says a development machine means it.
FLEETMON_ALLOW_DEV_SECRET = envbool("FLEETMON_ALLOW_DEV_SECRET", "false")

# The API speaks JSON only: other bodies get 415, and errors are JSON too (fleetmon/api_errors).
REST_FRAMEWORK.update(
    {
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "TEST_REQUEST_DEFAULT_FORMAT": "json",
    }
)
# Swagger UI and ReDoc come from the pinned drf-spectacular-sidecar: /api/docs/ works offline.
INSTALLED_APPS += ["drf_spectacular_sidecar"]
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        # Request bodies get their own components (FooRequest): no read-only fields in them,
        # and a string the server refuses blank says so (minLength 1).
        "COMPONENT_SPLIT_REQUEST": True,
        # Statuses DRF and Django answer on their own (403, 404, 415...) are documented here.
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "fleetmon.openapi.document_framework_answers",
        ],
    }
)
# Webhooks (alerts/notifications/webhook_guard.py) go to public hosts only, unless listed
# here: comma-separated host names, IP addresses or networks of on-premise receivers.
FLEETMON_WEBHOOK_ALLOWED_HOSTS = [
    h.strip() for h in os.getenv("FLEETMON_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()
]
# CA bundle (PEM file) that https webhook receivers' certificates are verified against; empty:
# the public CAs (certifi). On-premise receivers with an in-house CA name its bundle here.
FLEETMON_WEBHOOK_CA_BUNDLE = os.getenv("FLEETMON_WEBHOOK_CA_BUNDLE", "")
# An open alerts websocket re-checks its session this often (a logout closes it at once).
FLEETMON_WS_SESSION_CHECK_SECONDS = float(os.getenv("FLEETMON_WS_SESSION_CHECK_SECONDS", "30"))
# User API tokens (fleetmon/accounts/tokens.py): shown once, stored as SHA-256, expiring.
FLEETMON_API_TOKEN_DAYS = envint("FLEETMON_API_TOKEN_DAYS", "90")

# Login throttling (django-axes) on /accounts/login/ and /admin/login/: after the limit of
# failures for one username from one address, sign-in is refused (429) for the cool-off.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "fleetmon.accounts.throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("FLEETMON_LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = envint("FLEETMON_LOGIN_COOLOFF_MINUTES", "15") / 60  # hours
# Username and address together: a stranger cannot lock a colleague out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "fleetmon.accounts.throttle.locked_out"
# Successful sign-ins are not worth a row or a log line each; lock-outs are logged
# (fleetmon/accounts/throttle.py).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
LOGGING["loggers"] = {**LOGGING.get("loggers", {}), "axes": {"level": "WARNING"}}

# Content-Security-Policy: scripts, styles and fonts from this site only (plotly.js is vendored,
# no inline code); the API docs relax styles on their own pages (fleetmon/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # plotly.js adds two <style> elements: an empty one it fills through the CSSOM, and
        # the map library's stylesheet. Their hashes (of plotly 7.1.0's bundle; a new
        # bundle's refusal names its hash in the browser console) admit exactly those.
        "style-src": [
            "'self'",
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
            "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
        ],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Permissions-Policy: the console needs none of these browser features.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}
MIDDLEWARE += [
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Last, as django-axes asks: it turns a lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

# ---------------------------------------------------------------- resilience (issue 12)
# A running shard's heartbeat (a thread beside the scoring) every this many seconds; the
# sweeper re-sends a shard silent for FLEETMON_SHARD_STALE_SECONDS.
FLEETMON_SHARD_HEARTBEAT_SECONDS = float(os.getenv("FLEETMON_SHARD_HEARTBEAT_SECONDS", "5"))
# A shard still pending this long after it was sent (a lost task message) is sent again;
# a pending shard is not re-sent sooner, since its task may just be waiting in a long queue.
FLEETMON_SHARD_PENDING_RESEND_SECONDS = envint("FLEETMON_SHARD_PENDING_RESEND_SECONDS", "300")
# Celery outlives a Redis outage: it retries the broker forever, at start-up too.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# On SIGTERM (with REMAP_SIGTERM=SIGQUIT, as deploy/ and `make run` set it) running tasks get
# this long, then are cancelled and go back to the queue (acks_late): a stop takes < 10 s.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(os.getenv("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", "4"))
# The ingest relay's and the rules worker's Redis calls give up after this long, so an
# unreachable Redis costs a request a moment, never a hang (fleetmon/streams.py).
FLEETMON_REDIS_TIMEOUT_SECONDS = float(os.getenv("FLEETMON_REDIS_TIMEOUT_SECONDS", "2"))
