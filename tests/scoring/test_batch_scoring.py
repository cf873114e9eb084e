"""Batch scoring runs end to end: shards on a real Celery worker, ledger, scores, alerts."""

import time
from datetime import timedelta

import pytest

from alerts.models import DeviceAlert
from fleetmon.registry.models import Device
from scoring.artifacts import artifact_dir
from scoring.models import ModelScore, ModelVersion, ScoringRun
from scoring.services.registry import model_set_role
from scoring.services.training import model_train
from scoring.tasks import dispatch_run
from tests.scoring.conftest import END, build_history

pytestmark = [pytest.mark.storage]


def wait_for_run(run_id: int, timeout: float = 60) -> ScoringRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = ScoringRun.objects.get(pk=run_id)
        if run.alerted_at:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish: {ScoringRun.objects.get(pk=run_id)}")


def production(kind: str) -> ModelVersion:
    version = model_train(kind=kind, actor="test", now=END)
    return model_set_role(
        version=version, role="production", actor="test", reason="test", force=True
    )


@pytest.fixture
def trained_fleet(scoring_settings, transactional_db):
    gen = build_history(devices=40, hours=10)
    production("isolation_forest")
    return gen


def test_a_run_scores_every_device_once_per_model_in_parallel_shards(trained_fleet, celery_worker):
    run_id = dispatch_run(trigger="on_demand", window_end=END, requested_by="test")
    run = wait_for_run(run_id)

    assert run.status == "succeeded"
    shards = run.shards.all()
    assert {s.model_version.kind for s in shards} == {"isolation_forest", "rules_fallback"}
    assert shards.count() == 2 * 2  # 40 devices in shards of 20, two models
    scores = ModelScore.objects.filter(run_id=run_id, model_id="isolation_forest_v1")
    assert scores.count() == run.devices_scored
    assert run.devices_scored + run.devices_skipped == 40
    assert scores.values("device_id").distinct().count() == scores.count()
    assert all(0 <= s.anomaly_score <= 1 for s in scores)
    device = Device.objects.exclude(latest_anomaly_score=None).first()
    assert device is not None  # pre-hydrated


def test_rerunning_a_shard_leaves_the_same_rows(trained_fleet, celery_worker):
    from scoring.services.runs import shard_score

    run = wait_for_run(dispatch_run(trigger="on_demand", window_end=END, requested_by="test"))
    before = sorted(
        ModelScore.objects.filter(run_id=run.pk).values_list("score_id", "anomaly_score")
    )
    shard = run.shards.first()
    type(shard).objects.filter(pk=shard.pk).update(status="pending")
    shard_score(shard_id=shard.pk)
    after = sorted(
        ModelScore.objects.filter(run_id=run.pk).values_list("score_id", "anomaly_score")
    )
    assert before == after


def test_a_failing_model_does_not_stop_the_others(trained_fleet, celery_worker):
    forest = production("isolation_forest")  # v2 replaces v1 in production
    cohort = model_set_role(
        version=model_train(kind="cohort_isolation_forest", actor="test", now=END),
        role="production",
        actor="test",
        reason="test",
        force=True,
    )
    (artifact_dir() / cohort.artifact_path).write_bytes(b"not a model")  # breaks its checksum

    run = wait_for_run(dispatch_run(trigger="on_demand", window_end=END, requested_by="test"))

    assert run.status == "partial"
    assert "cohort_isolation_forest_v1" in run.error and "corrupt" in run.error
    assert not ModelScore.objects.filter(run_id=run.pk, model_id=cohort.model_id).exists()
    assert ModelScore.objects.filter(run_id=run.pk, model_id=forest.model_id).count() > 0


def test_when_no_model_can_score_the_rules_fallback_still_alerts(
    scoring_settings, transactional_db, celery_worker
):
    from fleetmon.simulator.faults import FaultSpec, FaultType
    from fleetmon.simulator.fleet import make_fleet

    victim = make_fleet(10, seed=21).devices[0].device_id
    build_history(
        devices=10,
        hours=3,
        faults=[
            FaultSpec(
                victim,
                FaultType.COMPRESSOR_OVERLOAD,
                END - timedelta(hours=1),
                END + timedelta(hours=1),
            )
        ],
    )
    run = wait_for_run(dispatch_run(trigger="on_demand", window_end=END, requested_by="test"))

    assert run.status == "succeeded"
    alert = DeviceAlert.objects.get(device_id=victim)
    assert (alert.source, alert.severity) == ("fallback", "MEDIUM")
    # The overload trips the compressor within minutes; by the scored window its coil has
    # warmed past the profile's limit (or the current is still above it).
    assert "flagged by fallback rules" in alert.title
    assert alert.top_contributors[0] in ("temp_evaporator_mean", "current_compressor_max")
