"""ASGI entry point: HTTP to Django; websocket routes join here as the alert push lands."""

import os

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")

application = get_asgi_application()
if settings.FLEETMON_SERVE_STATIC:
    # One-host demo: the app serves its own static files. Behind a proxy, let it serve them.
    application = ASGIStaticFilesHandler(application)
