"""The alert page and its API: detail, score history and the operator actions (§7.3)."""

from django.urls import path

from alerts.api import actions
from alerts.api.alert_detail import AlertDetailView, AlertScoresView
from alerts.views.alert import alert_page

API = "api/v1/alerts/<uuid:alert_id>/"

urlpatterns = [
    path("alerts/<uuid:alert_id>/", alert_page, name="alert"),
    path(API, AlertDetailView.as_view(), name="api-alert"),
    path(f"{API}scores/", AlertScoresView.as_view(), name="api-alert-scores"),
    path(f"{API}acknowledge/", actions.AcknowledgeView.as_view(), name="api-alert-acknowledge"),
    path(
        f"{API}schedule-maintenance/",
        actions.ScheduleMaintenanceView.as_view(),
        name="api-alert-schedule-maintenance",
    ),
    path(
        f"{API}false-positive/",
        actions.FalsePositiveView.as_view(),
        name="api-alert-false-positive",
    ),
    path(f"{API}resolve/", actions.ResolveView.as_view(), name="api-alert-resolve"),
    path(f"{API}escalate/", actions.EscalateView.as_view(), name="api-alert-escalate"),
    path(f"{API}shelve/", actions.ShelveView.as_view(), name="api-alert-shelve"),
    path(f"{API}unshelve/", actions.UnshelveView.as_view(), name="api-alert-unshelve"),
]
