from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fleetmon import views
from fleetmon.runbooks import runbook

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
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("quality.api.urls")),
    path("api/v1/", include("alerts.api.urls")),
    path("runbooks/<slug:slug>/", runbook, name="runbook"),
    path("api/v1/", include("scoring.api.urls")),
]
