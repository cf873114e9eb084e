"""The replay harness end to end on a small fleet: a scratch database, the real ingest,
stream, rules worker, scoring and score-to-alert on a simulated clock, and a stored scorecard
whose figures agree with the alerts the replay raised."""

import os

import pytest
from django.core.management import call_command
from django.db import connection

from alerts.models import DeviceAlert
from fleetmon.readings.models import CleanSensorReading
from monitoring.detection.replay import ReplayConfig
from monitoring.detection.services import evaluation_run
from monitoring.models import DetectionEvaluation

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SMALL = ReplayConfig(
    devices=24,
    history_days=2,
    test_days=0.5,
    seed=5,
    fault_types=("compressor_overload", "cooling_loss", "refrigerant_leak", "door_left_open"),
    fault_fraction=0.2,
)


def test_evaluate_detection_replays_a_small_fleet_end_to_end(capsys):
    evaluation = evaluation_run(config=SMALL, requested_by="test")

    # Nothing of the replay is left behind in the live database.
    assert not CleanSensorReading.objects.exists()
    assert not DeviceAlert.objects.exists()
    with connection.cursor() as cursor:
        scratch = f"{connection.settings_dict['NAME']}_eval_{os.getpid()}"
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch])
        assert cursor.fetchall() == []

    stored = DetectionEvaluation.objects.get(pk=evaluation.pk)
    assert stored.status == "succeeded" and stored.error == ""
    assert (stored.seed, stored.devices) == (SMALL.seed, SMALL.devices)
    assert {"isolation_forest", "statistical_baseline"} <= set(stored.model_versions)
    assert stored.thresholds["compressor_overload_amps"] > 0
    assert stored.duration_seconds > 0 and set(stored.timings) >= {"history", "replay"}

    card = stored.scorecard
    faults = {r["fault_type"]: r for r in card["faults"]}
    assert set(faults) <= set(SMALL.fault_types)
    planted = sum(r["devices"] for r in faults.values())
    assert planted >= 4
    healthy = card["healthy"]
    assert healthy["devices"] == SMALL.devices - planted
    assert healthy["device_days"] == pytest.approx(healthy["devices"] * SMALL.test_days)
    # The harness really streams: an acute fault reaches a streaming rule.
    acute = [r for r in faults.values() if r["kind"] == "acute"]
    assert any(k.startswith("streaming:") for r in acute for k in r["caught_first_by"]), acute
    assert stored.targets_measured >= 3


def test_the_command_prints_the_scorecard_and_refuses_bad_options(capsys):
    with pytest.raises(Exception, match="devices must be at least 4"):
        call_command("evaluate_detection", "--devices", "2")
    with pytest.raises(Exception, match="unknown fault types: nonsense"):
        call_command("evaluate_detection", "--faults", "nonsense")
    with pytest.raises(Exception, match="needs a UTC offset"):
        call_command("evaluate_detection", "--start", "2026-03-02T00:00:00")


def test_label_measures_need_a_positive_period():
    with pytest.raises(Exception, match="must be positive"):
        call_command("evaluate_detection", "--labels-days", "0")
