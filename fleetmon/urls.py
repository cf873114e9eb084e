from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fleetmon import views
from fleetmon.runbooks import runbook

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("scoring/", include("scoring.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("quality.api.urls")),
    path("api/v1/", include("alerts.api.urls")),
    path("runbooks/<slug:slug>/", runbook, name="runbook"),
    path("api/v1/", include("scoring.api.urls")),
]
