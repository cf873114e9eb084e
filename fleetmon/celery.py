import os

from celery import Celery
from celery.signals import beat_init, worker_init

from monitoring.jobs import connect as record_job_runs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")

app = Celery("fleetmon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every task run goes into the job-run ledger of the infrastructure monitors.
record_job_runs()


@worker_init.connect
@beat_init.connect
def refuse_development_key(**kwargs) -> None:
    """DEBUG off with the public development SECRET_KEY: the worker or beat does not start
    (SystemExit, as Celery only logs a signal handler's exceptions)."""
    from django.core.exceptions import ImproperlyConfigured

    from fleetmon.checks import refuse_development_key as refuse

    try:
        refuse()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"fleetmon: {exc}") from exc
