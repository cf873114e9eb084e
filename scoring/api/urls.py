from django.urls import path

from scoring.api.views import (
    DeviceScoresView,
    ModelDetailView,
    ModelListView,
    ModelPromoteView,
    ModelRollbackView,
    ModelTrainView,
    ScoringRunDetailView,
    ScoringRunListView,
    StalenessView,
)

urlpatterns = [
    path("models/", ModelListView.as_view(), name="models"),
    # Before <model_id>/: these words are actions, never model ids (those are <kind>_v<n>).
    path("models/rollback/", ModelRollbackView.as_view(), name="models-rollback"),
    path("models/train/", ModelTrainView.as_view(), name="models-train"),
    path("models/<str:model_id>/", ModelDetailView.as_view(), name="model-detail"),
    path("models/<str:model_id>/promote/", ModelPromoteView.as_view(), name="model-promote"),
    path("scoring-runs/", ScoringRunListView.as_view(), name="scoring-runs"),
    path("scoring-runs/<int:run_id>/", ScoringRunDetailView.as_view(), name="scoring-run-detail"),
    path("devices/<str:device_id>/scores/", DeviceScoresView.as_view(), name="device-scores"),
    path("scoring/staleness/", StalenessView.as_view(), name="scoring-staleness"),
]
