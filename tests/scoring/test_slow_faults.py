"""Slow faults within hours (issue 11): a refrigerant leak, condenser fouling, evaporator
icing and a failing door gasket are each alerted hours before their failure point by the
trailing-day model that beat's hourly job scores, while the fleet's healthy devices, with
their everyday restocking, deliveries and glitches, stay quiet.

A trailing day holds dozens of compressor cycles: what the compressor does and how the
system behaves while it runs steadily is steady from day to day on a healthy device, and a
slow fault moves it within hours (scoring.detectors.trend).
"""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import SEVERITY_RANK, DeviceAlert
from fleetmon.simulator.faults import FaultType, plan_faults
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.services import backfill, simulation_prepare
from scoring.services.features import features_compute
from scoring.services.registry import model_set_role
from scoring.services.training import model_train
from scoring.tasks import scheduled_scoring_task

pytestmark = [pytest.mark.storage, pytest.mark.django_db(transaction=True)]

DEVICES = 40
SEED = 34
START = datetime(2026, 11, 1, tzinfo=UTC)
ONSET = START + timedelta(days=6)  # six healthy days: the devices' own baselines
END = ONSET + timedelta(hours=36)
SLOW = (
    FaultType.REFRIGERANT_LEAK,
    FaultType.CONDENSER_FOULING,
    FaultType.EVAPORATOR_ICING,
    FaultType.DOOR_GASKET,
)


@pytest.fixture
def eager_celery():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.heavy
def test_slow_faults_are_alerted_hours_before_their_failure_point(scoring_settings, eager_celery):
    prepared = simulation_prepare(
        devices=DEVICES, seed=SEED, start=START, end=END, fault_fraction=0
    )
    faults = plan_faults(
        prepared.fleet, seed=SEED, start=ONSET, end=END, fraction=len(SLOW) / DEVICES, types=SLOW
    )
    assert sorted(f.fault_type for f in faults) == sorted(SLOW)
    generator = FleetGenerator(prepared.fleet, faults, seed=SEED, origin=START)
    backfill(generator=generator, start=START, end=END, chunk=timedelta(hours=12))
    features_compute(minutes=60, start=START, end=ONSET)
    features_compute(minutes=1440, start=START, end=ONSET)
    version = model_train(kind="daily_baseline", actor="test", now=ONSET)
    model_set_role(version=version, role="production", actor="test", reason="test", force=True)

    # Beat's hourly job, at 2 past each hour of the test period.
    hour = ONSET + timedelta(hours=1)
    while hour <= END:
        now = hour + timedelta(minutes=2)
        scheduled_scoring_task.apply(kwargs={"trigger": "hourly", "now": now.isoformat()})
        hour += timedelta(hours=1)

    alerts = DeviceAlert.objects.filter(suppressed=False, model_id=version.model_id)
    failures = generator.failure_points()
    leads = {}
    for fault in faults:
        raised = [
            a.window_end
            for a in alerts.filter(device_id=fault.device_id, window_end__gte=fault.start)
            if SEVERITY_RANK[a.severity] >= SEVERITY_RANK["MEDIUM"]
        ]
        assert raised, f"{fault.fault_type} on {fault.device_id} raised no alert"
        failure = failures[fault] or END
        leads[str(fault.fault_type)] = (failure - min(raised)) / timedelta(hours=1)
    assert all(lead >= 3 for lead in leads.values()), leads
    faulty = {f.device_id for f in faults}
    false = alerts.exclude(device_id__in=faulty).values("device_id").distinct().count()
    assert false <= 1, list(alerts.exclude(device_id__in=faulty).values_list("device_id", "title"))
