"""The ML engineer dashboard and the data-health page, with their JSON API (issue #6, H7)."""

from django.urls import path

from monitoring import ml_api, ml_views
from monitoring.detection import api as detection_api

ML_API = "api/v1/monitoring/ml/"
DATA_API = "api/v1/monitoring/data/"

urlpatterns = [
    # pages
    path("monitoring/ml/", ml_views.ml_dashboard_page, name="ml-dashboard"),
    path("monitoring/data/", ml_views.data_health_page, name="data-health"),
    # ML engineer dashboard
    path(f"{ML_API}summary/", ml_api.MlSummaryView.as_view(), name="api-monitoring-ml"),
    path(f"{ML_API}figures/", ml_api.MlFiguresView.as_view(), name="api-monitoring-ml-figures"),
    path(f"{ML_API}drift/", ml_api.DriftTableView.as_view(), name="api-monitoring-ml-drift"),
    path(
        f"{ML_API}runs/<int:run_id>/metrics/",
        ml_api.RunMetricsView.as_view(),
        name="api-monitoring-ml-run-metrics",
    ),
    path(
        f"{ML_API}top-flagged/",
        ml_api.TopFlaggedView.as_view(),
        name="api-monitoring-ml-top-flagged",
    ),
    # detection scorecards (issue 10)
    path(
        "api/v1/monitoring/detection/",
        detection_api.DetectionOverviewView.as_view(),
        name="api-monitoring-detection",
    ),
    path(
        "api/v1/monitoring/detection/<int:pk>/",
        detection_api.DetectionEvaluationView.as_view(),
        name="api-monitoring-detection-evaluation",
    ),
    # data health
    path(f"{DATA_API}summary/", ml_api.DataSummaryView.as_view(), name="api-monitoring-data"),
    path(f"{DATA_API}hourly/", ml_api.DataHourlyView.as_view(), name="api-monitoring-data-hourly"),
    path(f"{DATA_API}daily/", ml_api.DataDailyView.as_view(), name="api-monitoring-data-daily"),
    path(
        f"{DATA_API}figures/",
        ml_api.DataFiguresView.as_view(),
        name="api-monitoring-data-figures",
    ),
]
