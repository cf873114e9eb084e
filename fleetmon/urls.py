from csp.decorators import csp_replace
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from fleetmon import views
from fleetmon.openapi import SchemaView
from fleetmon.runbooks import runbook

# Replaced, not added to: next to the site's style hashes a browser ignores 'unsafe-inline'.
DOCS_CSP = {
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "worker-src": ["'self'", "blob:"],
}
swagger = SpectacularSwaggerSplitView.as_view(
    url_name="api-schema", template_name="drf_spectacular/fleetmon_swagger_ui.html"
)
redoc = SpectacularRedocView.as_view(
    url_name="api-schema", template_name="drf_spectacular/fleetmon_redoc.html"
)

# Under /api/ errors answer JSON (fleetmon/api_errors.py); elsewhere the console's pages.
handler400 = "fleetmon.api_errors.bad_request"
handler403 = "fleetmon.api_errors.permission_denied"
handler404 = "fleetmon.api_errors.page_not_found"
handler500 = "fleetmon.api_errors.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # Operator console: each module holds its pages and their /api/v1/ endpoints.
    path("", include("alerts.urls_queue")),
    path("", include("alerts.urls_alert")),
    path("", include("fleetmon.registry.urls")),
    path("", include("alerts.urls_notifications")),
    path("", include("fleetmon.readings.urls")),
    # Monitoring: operations dashboard, ML dashboard, the retraining loop.
    path("", include("monitoring.urls_ops")),
    path("", include("monitoring.urls_ml")),
    path("", include("monitoring.urls_loop")),
    path("scoring/", include("scoring.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # Swagger UI and ReDoc from the pinned sidecar package, with no inline script; their
    # bundles set inline styles and draw icons from blob: and data: URLs.
    path("api/docs/", csp_replace(DOCS_CSP)(swagger), name="api-docs"),
    path("api/redoc/", csp_replace(DOCS_CSP)(redoc), name="api-redoc"),
    path("api/v1/", include("quality.api.urls")),
    path("api/v1/", include("alerts.api.urls")),
    path("runbooks/<slug:slug>/", runbook, name="runbook"),
    path("api/v1/", include("scoring.api.urls")),
]
