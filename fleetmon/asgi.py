"""ASGI entry point: HTTP to Django, websockets through session auth to the alert consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetmon.settings")
django_http = get_asgi_application()  # before anything imports models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from alerts.routing import websocket_urlpatterns  # noqa: E402
from fleetmon.body_limit import BodySizeLimit  # noqa: E402
from fleetmon.checks import refuse_development_key  # noqa: E402

refuse_development_key()  # DEBUG off with the public development key: do not serve

http = ASGIStaticFilesHandler(django_http) if settings.FLEETMON_SERVE_STATIC else django_http
http = BodySizeLimit(http)
application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
