"""The triage queue: the operator's landing page and its API."""

from django.urls import path

from alerts.api.queue import (
    AlertBulkView,
    AlertExportView,
    AlertQueueView,
    SavedViewDetailView,
    SavedViewListView,
)
from alerts.views.maintenance import maintenance_windows_page
from alerts.views.queue import alert_queue

urlpatterns = [
    path("alerts/", alert_queue, name="alert-queue"),
    path("maintenance-windows/", maintenance_windows_page, name="maintenance-windows"),
    path("api/v1/alerts/", AlertQueueView.as_view(), name="api-alert-queue"),
    path("api/v1/alerts/export.csv", AlertExportView.as_view(), name="api-alert-export"),
    path("api/v1/alerts/bulk/", AlertBulkView.as_view(), name="api-alert-bulk"),
    path("api/v1/saved-views/", SavedViewListView.as_view(), name="api-saved-views"),
    path("api/v1/saved-views/<int:pk>/", SavedViewDetailView.as_view(), name="api-saved-view"),
]
