"""The hourly dropout job (D12) and the health status it sets (D14)."""

from datetime import timedelta

import pandas as pd
import pytest

from fleetmon.registry.health import health_status
from fleetmon.registry.models import Device
from fleetmon.sensors import SENSOR_NAMES
from quality.checks.dropout import DropoutThresholds, classify_dropout
from quality.ingest import ingest_messages
from quality.tasks import detect_dropout_task
from tests.conftest import NORMAL_READINGS, message, register_devices


@pytest.mark.parametrize(
    ("readings", "nulls", "state"),
    [
        (0, None, "FULL_DROPOUT"),
        (1, 0.0, "FREQUENCY_DEGRADATION"),
        (29, 0.0, "FREQUENCY_DEGRADATION"),
        (30, 0.0, "HEALTHY"),
        (60, 4.0, "HEALTHY"),
        (60, 4.01, "SENSOR_SUBSET_DROPOUT"),
        (29, 9.0, "FREQUENCY_DEGRADATION"),
    ],
)
def test_dropout_cut_offs(readings, nulls, state):
    activity = pd.DataFrame({"readings_1h": [readings], "mean_nulls_1h": [nulls]})
    assert classify_dropout(activity, DropoutThresholds()).tolist() == [state]


@pytest.mark.parametrize(
    ("dropout", "score", "severity", "health"),
    [
        ("FULL_DROPOUT", 0.99, "CRITICAL", "offline"),
        ("HEALTHY", 0.86, None, "critical"),
        ("HEALTHY", 0.1, "HIGH", "critical"),
        ("HEALTHY", 0.71, None, "warning"),
        ("HEALTHY", None, "MEDIUM", "warning"),
        ("FREQUENCY_DEGRADATION", 0.1, None, "warning"),
        ("HEALTHY", 0.7, "LOW", "healthy"),
        ("HEALTHY", None, None, "healthy"),
    ],
)
def test_health_status_rules(dropout, score, severity, health):
    status = health_status(dropout_state=dropout, latest_score=score, worst_open_severity=severity)
    assert status == health


def feed(device, now, count, **kwargs):
    ingest_messages(
        messages=[message(device, now - timedelta(minutes=m + 1), **kwargs) for m in range(count)],
        received_at=now,
    )


@pytest.mark.storage
def test_dropout_job_run_by_a_celery_worker_updates_the_registry(celery_worker, now):
    healthy, sparse, patchy, silent, empty = (d.device_id for d in register_devices(5))
    feed(healthy, now, 60)
    feed(sparse, now, 20)
    five_gone = {k: (None if k in SENSOR_NAMES[:5] else v) for k, v in NORMAL_READINGS.items()}
    feed(patchy, now, 60, readings=five_gone)
    nothing = {name: None for name in SENSOR_NAMES}
    ingest_messages(
        messages=[
            message(empty, now - timedelta(minutes=m + 1), readings=nothing) for m in range(50)
        ]
        + [message(empty, now - timedelta(minutes=m + 51)) for m in range(10)],
        received_at=now,
    )

    result = detect_dropout_task.delay(now.isoformat()).get(timeout=60)

    states = dict(Device.objects.values_list("device_id", "dropout_state"))
    assert states == {
        healthy: "HEALTHY",
        sparse: "FREQUENCY_DEGRADATION",
        patchy: "SENSOR_SUBSET_DROPOUT",
        silent: "FULL_DROPOUT",
        empty: "SENSOR_SUBSET_DROPOUT",
    }
    assert result == {
        "HEALTHY": 1,
        "FREQUENCY_DEGRADATION": 1,
        "SENSOR_SUBSET_DROPOUT": 2,
        "FULL_DROPOUT": 1,
    }
    device = Device.objects.get(pk=healthy)
    assert (device.health_status, device.reading_count_24h) == ("healthy", 60)
    assert device.last_reading_at == now - timedelta(minutes=1)
    assert device.avg_temperature_evaporator_24h == pytest.approx(-20.5)
    assert device.avg_compressor_current_24h == pytest.approx(12.0)
    assert Device.objects.get(pk=silent).health_status == "offline"
    assert Device.objects.get(pk=sparse).health_status == "warning"
    # The patchy device never reported five sensors: they are not in its reporting mask.
    assert Device.objects.get(pk=patchy).reporting_sensors == (1 << 14) - 1 - 0b11111


def test_dropout_job_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["detect-dropout-hourly"]
    assert entry["task"] == detect_dropout_task.name
    assert entry["schedule"].minute == {5}
