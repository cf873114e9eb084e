"""ASGI entry point: HTTP to Django; websocket routes join here as the alert push lands."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")

application = get_asgi_application()
