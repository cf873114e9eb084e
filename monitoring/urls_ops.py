"""Operations dashboard (page and API), monitor alerts and SLAs (issue #6, H6)."""

from django.urls import path

from monitoring.infra.api import MonitorAlertListView, OpsOverviewView, SlaListView
from monitoring.infra.views import ops_dashboard

urlpatterns = [
    path("monitoring/ops/", ops_dashboard, name="ops-dashboard"),
    path("api/v1/monitoring/ops/", OpsOverviewView.as_view(), name="api-monitoring-ops"),
    path("api/v1/monitoring/alerts/", MonitorAlertListView.as_view(), name="api-monitor-alerts"),
    path("api/v1/monitoring/slas/", SlaListView.as_view(), name="api-monitoring-slas"),
]
