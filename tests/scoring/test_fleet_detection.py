"""The whole batch path on a simulated fleet: injected gradual faults alert, healthy ones don't.

Hourly runs over a day, each one scoring, alerting and pre-hydrating through the real code
(shards executed in-process, the alert task eagerly), on models trained on the fleet's own
fault-free history.
"""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import SEVERITY_RANK, DeviceAlert
from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.fleet import make_fleet
from scoring.models import ScoringRun
from scoring.services.features import features_compute
from scoring.services.registry import model_set_role
from scoring.services.runs import run_create, run_shard_ids, shard_score
from scoring.services.training import model_train
from tests.scoring.conftest import build_history

pytestmark = [
    pytest.mark.storage,
    pytest.mark.django_db(transaction=True),
    # TRICKY: true of the statistical simulator, not of the physics one (issue 10): a
    # 15-minute window holds about one compressor cycle, and the models scoring it are
    # noisy (9 of 60 healthy devices a day) and blind to slow wear within a day. Issue 11
    # rebuilds the batch path on cycle-aware features; strict, so a pass is noticed.
    pytest.mark.xfail(strict=True, reason="issue 11: batch models on realistic physics"),
]

DEVICES = 60
SEED = 33
START = datetime(2026, 11, 20, tzinfo=UTC)
# Training sees a full day (the ambient cycle), ending 3 h before this; then a day of runs.
TRAINED = START + timedelta(hours=28)
END = START + timedelta(hours=52)


@pytest.fixture
def eager_celery():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def simulate(faults: list[FaultSpec]) -> None:
    build_history(devices=DEVICES, hours=52, seed=SEED, faults=faults, end=END)
    features_compute(minutes=15, start=START, end=END)
    for kind in ("isolation_forest", "statistical_baseline"):
        version = model_train(kind=kind, actor="test", now=TRAINED)
        model_set_role(version=version, role="production", actor="test", reason="test", force=True)
    for hour in range(29, 53):
        run = run_create(
            trigger=ScoringRun.Trigger.HOURLY,
            window_end=START + timedelta(hours=hour),
            requested_by="test",
        )
        for shard_id in run_shard_ids(run):
            shard_score(shard_id=shard_id)
        assert ScoringRun.objects.get(pk=run.pk).alerted_at is not None


def worst_alert(device_id: str) -> str | None:
    severities = DeviceAlert.objects.filter(device_id=device_id).values_list("severity", flat=True)
    return max(severities, key=SEVERITY_RANK.get, default=None)


@pytest.mark.heavy
def test_every_injected_gradual_fault_raises_an_alert_of_its_severity(
    scoring_settings, eager_celery
):
    """Vibration and leak on the hourly runs; the slow temperature drift is the daily
    model's (tests/scoring/test_drift_detection.py)."""
    ids = [d.device_id for d in make_fleet(DEVICES, seed=SEED).devices]
    onset, until = TRAINED, END + timedelta(hours=1)
    faults = {
        ids[0]: FaultSpec(ids[0], FaultType.BEARING_WEAR, onset, until),
        ids[1]: FaultSpec(ids[1], FaultType.REFRIGERANT_LEAK, onset, until),
    }
    simulate(list(faults.values()))

    assert worst_alert(ids[0]) in ("HIGH", "CRITICAL")  # an acute mechanical fault
    assert SEVERITY_RANK[worst_alert(ids[1]) or "LOW"] >= SEVERITY_RANK["MEDIUM"]


@pytest.mark.heavy
def test_a_fault_free_fleet_alerts_on_at_most_five_percent_of_devices_a_day(
    scoring_settings, eager_celery
):
    simulate([])
    day = DeviceAlert.objects.filter(
        first_detected_at__gt=END - timedelta(hours=24), suppressed=False
    )
    alerted = day.values("device_id").distinct().count()
    assert alerted <= 0.05 * DEVICES, list(
        day.values_list(
            "device_id", "severity", "model_id", "anomaly_score", "top_contributors", "window_end"
        )
    )
