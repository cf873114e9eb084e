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

# Four days of history train every model kind (the trailing-day model stands on its cohort
# until a device has two days of trailing windows); one test day holds acute and slow faults,
# the routine harmless events, a hot afternoon and a site power loss.
SMALL = ReplayConfig(
    devices=40,
    history_days=4,
    test_days=1,
    seed=5,
    fault_types=(
        "compressor_overload",
        "low_side_loss",
        "cooling_loss",
        "door_left_open",
        "refrigerant_leak",
        "condenser_fouling",
        "evaporator_icing",
        "door_gasket",
    ),
    fault_fraction=0.2,
)


@pytest.mark.heavy
def test_evaluate_detection_replays_a_small_fleet_and_meets_the_targets(capsys):
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
    assert {"isolation_forest", "statistical_baseline", "daily_baseline"} <= set(
        stored.model_versions
    )
    assert stored.thresholds["compressor_overload_amps"] > 0
    assert stored.duration_seconds > 0 and set(stored.timings) >= {"history", "replay"}

    card = stored.scorecard
    faults = {r["fault_type"]: r for r in card["faults"]}
    assert set(faults) <= set(SMALL.fault_types)
    planted = sum(r["devices"] for r in faults.values())
    assert planted == 8
    healthy = card["healthy"]
    assert healthy["devices"] == SMALL.devices - planted
    assert healthy["device_days"] == pytest.approx(healthy["devices"] * SMALL.test_days)

    # Regression guards, not issue 11's targets (those are measured on 200-device fleets, see
    # the README): 32 healthy device-days after only 4 days of history, one device per fault
    # type, and a replay whose streaming timing varies from run to run, so each guard leaves
    # one case of headroom. Before issue 11, 120-device replays drew 1.5-4 HIGH/CRITICAL
    # alerts per healthy device-day (about 50-130 here); runs of this one draw 0-3.
    summary = card["summary"]
    assert healthy["high_critical_alerts"] - healthy["high_critical_no_fault"] >= 1
    assert healthy["high_critical_no_fault"] <= 4, healthy["false_alarms_by_rule"]
    assert summary["glitch_high_critical"] <= 1
    assert summary["power_loss_outages_with_one_incident"] == 1.0
    # Slow faults alerted (>= MEDIUM) before their failure point: at least half of them in a
    # single test day; acute faults at their severity by a streaming rule: all but one.
    assert summary["gradual_recall_before_failure"] >= 0.5, faults
    acute = ("compressor_overload", "low_side_loss", "cooling_loss", "door_left_open")
    planted_acute = sum(faults[f]["devices"] for f in acute if f in faults)
    at_severity = sum(faults[f]["at_severity"] for f in acute if f in faults)
    assert planted_acute >= 3 and at_severity >= planted_acute - 1, faults
    assert stored.targets_measured >= 6


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
