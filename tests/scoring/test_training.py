"""Training a version from stored features, and the registry's role changes."""

from datetime import timedelta

import pytest

from scoring.artifacts import ArtifactError, artifact_dir, artifact_load
from scoring.models import FeatureBaseline, ModelRole, ModelVersion, ModelVersionEvent
from scoring.services.registry import RegistryError, model_rollback, model_set_role
from scoring.services.training import TrainingFailed, model_train
from tests.scoring.conftest import END, build_history

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


@pytest.fixture
def history(scoring_settings):
    return build_history(devices=40, hours=10)


def test_training_registers_a_draft_with_artifact_statistics_and_baselines(history):
    version = model_train(kind="isolation_forest", actor="alice", now=END)

    assert (version.model_id, version.version, version.role) == (
        "isolation_forest_v1",
        "1.1.0",
        ModelRole.DRAFT,
    )
    # Temporal split: nothing from the validation span or the gap before it.
    assert version.training_window_end <= END - timedelta(hours=3)
    assert version.training_rows > 200 and version.training_devices >= 35
    assert set(version.training_statistics) == set(version.feature_names)
    assert {"mean", "std", "p0_1", "p99_9", "null_rate"} <= set(
        version.training_statistics["temp_evaporator_mean"]
    )
    payload = artifact_load(path=version.artifact_path, sha256=version.artifact_sha256)
    assert payload
    fleet = FeatureBaseline.objects.filter(model_version=version, granularity="fleet")
    assert fleet.count() == len(version.feature_names)
    assert FeatureBaseline.objects.filter(model_version=version, granularity="cohort").exists()
    event = ModelVersionEvent.objects.get(model_version=version)
    assert (event.action, event.actor) == ("trained", "alice")
    assert 0.005 <= event.details["validation_anomaly_rate"] <= 0.2


def test_statistical_baseline_keeps_device_baselines(scoring_settings):
    # Per-device baselines need more history than the forest: a day and a bit.
    build_history(devices=20, hours=30)
    version = model_train(kind="statistical_baseline", actor="alice", now=END)
    devices = FeatureBaseline.objects.filter(model_version=version, granularity="device")
    assert devices.values("device_id").distinct().count() == version.training_devices


def test_training_without_enough_history_fails_with_a_reason(scoring_settings, devices):
    with pytest.raises(TrainingFailed, match="usable training windows"):
        model_train(kind="isolation_forest", actor="alice", now=END)


def test_a_corrupted_artifact_is_refused(history):
    version = model_train(kind="isolation_forest", actor="alice", now=END)
    (artifact_dir() / version.artifact_path).write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="corrupt"):
        artifact_load(path=version.artifact_path, sha256=version.artifact_sha256)


def test_promotion_retires_the_previous_production_and_rollback_restores_it(history):
    first = model_train(kind="isolation_forest", actor="alice", now=END)
    second = model_train(kind="isolation_forest", actor="alice", now=END)
    model_set_role(version=first, role="production", actor="alice", reason="first", force=True)
    model_set_role(version=second, role="production", actor="bob", reason="better", force=True)

    roles = dict(ModelVersion.objects.values_list("model_id", "role"))
    assert roles == {"isolation_forest_v1": "retired", "isolation_forest_v2": "production"}

    restored = model_rollback(kind="isolation_forest", actor="carol", reason="v2 misfires")
    assert restored == first
    roles = dict(ModelVersion.objects.values_list("model_id", "role"))
    assert roles == {"isolation_forest_v1": "production", "isolation_forest_v2": "retired"}
    rollback = ModelVersionEvent.objects.get(model_version=second, action="rolled_back")
    assert (rollback.actor, rollback.reason) == ("carol", "v2 misfires")


def test_role_changes_need_a_reason_and_a_known_role(history):
    version = model_train(kind="isolation_forest", actor="alice", now=END)
    with pytest.raises(RegistryError, match="reason"):
        model_set_role(version=version, role="production", actor="alice", reason=" ")
    with pytest.raises(RegistryError, match="unknown role"):
        model_set_role(version=version, role="champion", actor="alice", reason="x")


def test_only_the_last_three_versions_keep_their_artifacts(history, scoring_settings):
    versions = []
    for _ in range(5):
        version = model_train(kind="isolation_forest", actor="alice", now=END)
        model_set_role(version=version, role="production", actor="alice", reason="next", force=True)
        versions.append(version)
    kept = dict(ModelVersion.objects.values_list("model_id", "artifact_path"))
    assert [bool(kept[v.model_id]) for v in versions] == [False, False, True, True, True]
    assert not (artifact_dir() / versions[0].artifact_path).exists()
