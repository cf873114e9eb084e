"""Slow drift on the daily path: a +0.2 °C/h evaporator drift is caught by the daily
baseline model (1440-minute windows, scored by beat's daily run), while the healthy devices
of the same fleet stay under the 5 %-a-day false-alert budget.

An hourly 15-minute window cannot see this fault early: the evaporator's own slow swings
(std about 3 °C, hours long) hide a 0.2 °C/h ramp. A day's mean is several times steadier,
so comparing each device's daily windows with its own past days is where a drift shows.
"""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import SEVERITY_RANK, DeviceAlert
from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.fleet import make_fleet
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.services import backfill, simulation_prepare
from scoring.models import ScoringRun
from scoring.services.features import features_compute
from scoring.services.registry import model_set_role
from scoring.services.training import model_train
from scoring.tasks import scheduled_scoring_task

pytestmark = [pytest.mark.storage, pytest.mark.django_db(transaction=True)]

DEVICES = 40
SEED = 34
DAY = timedelta(days=1)
START = datetime(2026, 11, 1, tzinfo=UTC)
ONSET = START + 10 * DAY  # nine healthy days train the device baselines
END = ONSET + 2 * DAY


@pytest.fixture
def eager_celery():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_a_slow_temperature_drift_alerts_from_the_daily_run(scoring_settings, eager_celery):
    drifting = make_fleet(DEVICES, seed=SEED).devices[2].device_id
    gen = simulation_prepare(devices=DEVICES, seed=SEED, start=START, end=END, fault_fraction=0)
    fault = FaultSpec(drifting, FaultType.TEMPERATURE_DRIFT, ONSET, END + DAY)
    backfill(
        generator=FleetGenerator(gen.fleet, [fault], seed=SEED),
        start=START,
        end=END,
        chunk=timedelta(hours=12),
    )
    features_compute(minutes=1440, start=START, end=ONSET)
    version = model_train(kind="daily_baseline", actor="test", now=ONSET)
    assert version.window_minutes == 1440
    model_set_role(version=version, role="production", actor="test", reason="test", force=True)

    # Beat's daily job, 03:10 on each of the two drift days: yesterday's daily window.
    for day in (1, 2):
        scheduled_scoring_task.apply(
            kwargs={"trigger": "daily", "now": (ONSET + day * DAY + timedelta(hours=3)).isoformat()}
        )
        run = ScoringRun.objects.get(window_minutes=1440, window_end=ONSET + day * DAY)
        assert run.status == "succeeded" and run.alerted_at is not None

    daily = DeviceAlert.objects.filter(suppressed=False, model_id=version.model_id)
    drift_alerts = daily.filter(device_id=drifting).values_list("severity", flat=True)
    assert drift_alerts, "the drifting device raised no alert from the daily model"
    assert SEVERITY_RANK[max(drift_alerts, key=SEVERITY_RANK.get)] >= SEVERITY_RANK["MEDIUM"]
    for day in (1, 2):
        healthy = daily.exclude(device_id=drifting).filter(window_end=ONSET + day * DAY)
        assert healthy.values("device_id").distinct().count() <= 0.05 * DEVICES
