import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")

app = Celery("fleetmon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
