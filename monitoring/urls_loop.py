"""Routes of the continual-learning loop: the retraining page and its API."""

from django.urls import path

from monitoring.retraining.api import RetrainingTriggerDetailView, RetrainingTriggerListView
from monitoring.retraining.views import retraining

urlpatterns = [
    path("monitoring/retraining/", retraining, name="monitoring-retraining"),
    path(
        "api/v1/monitoring/retraining-triggers/",
        RetrainingTriggerListView.as_view(),
        name="retraining-triggers",
    ),
    path(
        "api/v1/monitoring/retraining-triggers/<int:pk>/",
        RetrainingTriggerDetailView.as_view(),
        name="retraining-trigger-detail",
    ),
]
