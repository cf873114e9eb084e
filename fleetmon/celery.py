import os

from celery import Celery

from monitoring.jobs import connect as record_job_runs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")

app = Celery("fleetmon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every task run goes into the job-run ledger of the infrastructure monitors.
record_job_runs()
