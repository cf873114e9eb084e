"""Training a version from stored features, and the registry's role changes."""

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from scoring.artifacts import ArtifactError, artifact_dir, artifact_load
from scoring.models import FeatureBaseline, ModelRole, ModelScore, ModelVersion, ModelVersionEvent
from scoring.services.registry import RegistryError, model_rollback, model_set_role
from scoring.services.runs import run_create, run_shard_ids, shard_score
from scoring.services.training import TrainingFailed, model_train
from tests.scoring.conftest import END, build_history
from tests.scoring.history import END as HISTORY_END
from tests.scoring.history import LACKING, backfill_history, register_fleet

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
    assert 0 <= event.details["validation_anomaly_rate"] <= 0.2


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


# ---------------------------------------------------------------- --until, missing sensors


@pytest.fixture
def training_settings(settings, tmp_path):
    settings.FLEETMON_ARTIFACT_DIR = str(tmp_path / "artifacts")
    settings.FLEETMON_TRAINING_GAP_HOURS = 1
    settings.FLEETMON_VALIDATION_HOURS = 2
    settings.FLEETMON_TRAINING_MIN_ROWS = 20
    return settings


def test_until_trains_on_the_window_ending_then(training_settings, capsys):
    fleet = register_fleet({"WF-5HP": 12})
    backfill_history(fleet, hours=30)
    until = HISTORY_END - timedelta(hours=10)

    call_command("train_model", "isolation_forest", "--until", until.isoformat())

    version = ModelVersion.objects.get()
    # Training windows end before the validation span and its gap (2 h + 1 h) before --until:
    # the 10 hours of history after it are not used.
    assert version.training_window_end == until - timedelta(hours=3)
    assert version.training_window_start == HISTORY_END - timedelta(hours=30)
    assert version.training_rows == 12 * (30 - 10 - 3) * 4
    out = capsys.readouterr().out
    assert out.strip() == (
        "isolation_forest_v1 trained on 816 windows of 12 devices, "
        "2026-11-24T06:00Z to 2026-11-24T23:00Z"
    )


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("2026-11-25T12:00:00", "--until '2026-11-25T12:00:00' has no UTC offset; add Z or +hh:mm"),
        ("yesterday", "--until 'yesterday' is not an ISO 8601 date-time"),
    ],
)
def test_a_naive_or_unparsable_until_is_refused(until, message, db):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("train_model", "isolation_forest", "--until", until)
    assert not ModelVersion.objects.exists()


def test_a_naive_until_exits_non_zero_with_one_clear_line():
    result = subprocess.run(
        [sys.executable, "manage.py", "bootstrap_models", "--until", "2026-11-25 12:00"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: --until '2026-11-25 12:00' has no UTC offset; add Z or +hh:mm "
        "(for example 2026-11-25T12:00:00Z)"
    ]


def test_a_cohort_without_vibration_and_humidity_trains_every_model_kind_and_scores(
    training_settings,
):
    # Walk-in freezers with every sensor; older display cases that never had vibration or
    # humidity sensors (domain §1: the keys are simply missing).
    fleet = register_fleet({"WF-5HP": 8, "DC-2HP": 8})
    backfill_history(fleet, hours=72, lacking={"DC-2HP": LACKING}, daily=True)
    kinds = (
        "isolation_forest",
        "statistical_baseline",
        "cohort_isolation_forest",
        "daily_baseline",
    )

    for kind in kinds:
        version = model_train(kind=kind, actor="alice", now=HISTORY_END)
        # Every training window of the older units is used, none excluded for the gap.
        cohorts = {b.cohort_id for b in FeatureBaseline.objects.filter(model_version=version)}
        assert "DC-2HP/temperate" in cohorts, kind
        assert version.training_devices == 16, kind
        assert "vibration_compressor_max" in version.cohort_medians["DC-2HP/temperate"] or (
            "vibration_compressor_max" not in version.feature_names
        )
        model_set_role(version=version, role="production", actor="alice", reason="t", force=True)

    scored = {}
    for minutes, window_end in ((15, HISTORY_END), (1440, HISTORY_END.replace(hour=0))):
        run = run_create(
            trigger="on_demand", window_end=window_end, requested_by="t", window_minutes=minutes
        )
        for shard_id in run_shard_ids(run):
            shard_score(shard_id=shard_id)
        assert not run.shards.filter(status="failed").exists(), list(run.shards.values("error"))
        for score in ModelScore.objects.filter(run_id=run.pk):
            scored.setdefault(score.model_id.rsplit("_v", 1)[0], set()).add(score.device_id)
    older = set(fleet["DC-2HP"])
    for kind in (*kinds, "rules_fallback"):
        assert older <= scored[kind], kind
