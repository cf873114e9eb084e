"""The hourly data-quality job and its monitors on crafted readings, ingested through the
real C1 -> C2 contract: null rate per sensor, availability, flag mix, completeness."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetmon.sensors import SENSOR_NAMES
from monitoring.data_quality import (
    FLAG_RATE_FLOOR,
    data_quality_hour,
    last_closed_hour,
)
from monitoring.models import DataQualityHourly, MonitorAlert
from quality.ingest import ingest_messages
from scoring.models import DeviceFeatures
from tests.conftest import message, register_devices

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

H = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the hour under test: [12:00, 13:00)
DEVICES = 10
PER_DEVICE = 6  # one reading every 10 minutes: 60 clean readings in the hour


@pytest.fixture
def fleet(db):
    return [d.device_id for d in register_devices(DEVICES)]


def ingest(messages):
    result = ingest_messages(messages=messages, received_at=H + timedelta(minutes=59))
    assert result.rejected == 0, result.errors
    return result


def readings(fleet, *, null=None, values=None, start=H):
    """PER_DEVICE readings per device in the hour; `null` maps sensor -> how many of the
    readings (counted across the fleet, device by device) carry it null; `values` maps a
    sensor -> (how many readings, value) to override."""
    null, values = null or {}, values or {}
    out, i = [], 0
    for device in fleet:
        for k in range(PER_DEVICE):
            overrides = {s: None for s, n in null.items() if i < n}
            overrides |= {s: v for s, (n, v) in values.items() if i < n}
            out.append(message(device, start + timedelta(minutes=10 * k), values=overrides))
            i += 1
    return out


def stored(metric, key="", scope=""):
    return DataQualityHourly.objects.get(hour=H, metric=metric, key=key, scope=scope)


def open_alert(monitor, subject):
    return MonitorAlert.objects.filter(monitor=monitor, subject=subject, status="open").first()


def baseline_hours(metric, key, *, value=None, count=0, total=0, hours=24):
    """Stored figures of earlier hours: what the job compares the current hour with."""
    DataQualityHourly.objects.bulk_create(
        DataQualityHourly(
            hour=H - timedelta(hours=h),
            metric=metric,
            key=key,
            value=value if value is not None else (count / total if total else None),
            count=count,
            total=total,
            computed_at=H,
        )
        for h in range(1, hours + 1)
    )


def test_null_rate_and_availability_per_sensor_from_clean_readings(fleet):
    # Three devices never send humidity; one reading has an out-of-range ambient value.
    msgs = []
    for i, device in enumerate(fleet):
        for k in range(PER_DEVICE):
            values = {"humidity": None} if i < 3 else {}
            if i == 5 and k == 0:
                values["temperature_ambient"] = 99.0  # range 40..60: nulled and flagged
            msgs.append(message(device, H + timedelta(minutes=10 * k), values=values))
    ingest(msgs)

    result = data_quality_hour(hour=H, now=H + timedelta(minutes=70))

    humidity = stored("null_rate", "humidity")
    assert (humidity.count, humidity.total) == (18, 60)
    assert humidity.value == pytest.approx(0.3)
    assert stored("null_rate", "humidity", scope="WF-5HP").value == pytest.approx(0.3)
    assert stored("null_rate", "temperature_ambient").value == pytest.approx(1 / 60)
    assert stored("null_rate", "temperature_evaporator").value == 0.0
    availability = stored("availability", "humidity")
    assert (availability.count, availability.total, availability.flagged) == (7, 10, True)
    assert not stored("availability", "temperature_ambient").flagged  # 10 of 10 sent it
    assert stored("readings").value == 60
    assert stored("flag_rate", "RANGE_VIOLATION").count == 1
    assert result.readings == 60 and "availability:humidity" in result.flagged

    alert = open_alert("data_sensor_availability", "humidity")
    assert alert.layer == "data" and alert.runbook == "sensor-availability"
    assert alert.evidence["count"] == 7
    assert open_alert("data_sensor_availability", "temperature_ambient") is None
    # No stored history yet: nothing to compare null rates or flags with.
    assert not MonitorAlert.objects.filter(monitor__in=["data_null_rate", "data_flag_mix"])


@pytest.mark.parametrize(
    ("reporting", "fires"),
    [(9, False), (8, True)],  # 90 % of devices is the limit: 9 of 10 pass, 8 of 10 do not
)
def test_availability_limit_is_ninety_percent(fleet, reporting, fires):
    msgs = [
        message(
            d, H + timedelta(minutes=10 * k), values={} if i < reporting else {"subcooling": None}
        )
        for i, d in enumerate(fleet)
        for k in range(PER_DEVICE)
    ]
    ingest(msgs)
    data_quality_hour(hour=H, now=H + timedelta(hours=1))
    assert (open_alert("data_sensor_availability", "subcooling") is not None) == fires


@pytest.mark.parametrize(
    ("nulls", "fires", "severity"),
    [
        (9, False, None),  # 15 % against a 10 % average: 5 points, the limit itself
        (10, True, "MEDIUM"),  # 16.7 %: past it
        (3, False, None),  # 5 %: 5 points below, the limit again
        (2, True, "LOW"),  # 3.3 %: a fall is a change too, but less alarming
    ],
)
def test_null_rate_change_against_the_seven_day_average(fleet, nulls, fires, severity):
    baseline_hours("null_rate", "humidity", value=0.10)
    ingest(readings(fleet, null={"humidity": nulls}))

    data_quality_hour(hour=H, now=H + timedelta(hours=1))

    row = stored("null_rate", "humidity")
    assert row.baseline == pytest.approx(0.10)
    assert row.flagged == fires
    alert = open_alert("data_null_rate", "humidity")
    assert (alert is not None) == fires
    if fires:
        assert alert.severity == severity and alert.runbook == "data-null-rate"


def test_null_rate_baseline_needs_a_day_of_stored_hours(fleet):
    baseline_hours("null_rate", "humidity", value=0.0, hours=23)
    ingest(readings(fleet, null={"humidity": 30}))
    data_quality_hour(hour=H, now=H + timedelta(hours=1))
    assert stored("null_rate", "humidity").baseline is None
    assert open_alert("data_null_rate", "humidity") is None


def test_null_rate_alert_clears_when_the_rate_returns(fleet):
    baseline_hours("null_rate", "humidity", value=0.0)
    ingest(readings(fleet, null={"humidity": 12}))
    data_quality_hour(hour=H, now=H + timedelta(hours=1))
    assert open_alert("data_null_rate", "humidity") is not None

    later = H + timedelta(hours=1)
    ingest_messages(
        messages=readings(fleet, start=later), received_at=later + timedelta(minutes=59)
    )
    data_quality_hour(hour=later, now=later + timedelta(hours=1))
    alert = MonitorAlert.objects.get(monitor="data_null_rate", subject="humidity")
    assert alert.status == "resolved" and alert.resolved_at == later + timedelta(hours=1)


@pytest.mark.parametrize(
    ("violations", "fires"),
    [(1, False), (2, True)],  # 30-day rate 1 %: 1/60 = 1.7 % passes, 2/60 = 3.3 % > 2x
)
def test_flag_rate_against_twice_its_thirty_day_rate(fleet, violations, fires):
    baseline_hours("flag_rate", "RANGE_VIOLATION", count=1, total=100)
    ingest(readings(fleet, values={"temperature_condenser": (violations, 150.0)}))

    data_quality_hour(hour=H, now=H + timedelta(hours=1))

    row = stored("flag_rate", "RANGE_VIOLATION")
    assert row.baseline == pytest.approx(0.01)
    assert row.count == violations and row.flagged == fires
    alert = open_alert("data_flag_mix", "RANGE_VIOLATION")
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "data-quality-flags" and alert.evidence["baseline"] == 0.01


def test_flag_rate_exactly_twice_the_baseline_does_not_fire():
    from monitoring.data_quality import _flag_breach

    assert not _flag_breach(0.02, 0.01)
    assert _flag_breach(0.0201, 0.01)
    # A flag that never occurred fires once it is on more than the noise floor ...
    assert _flag_breach(FLAG_RATE_FLOOR * 2, 0.0)
    # ... but not on a handful of rows.
    assert not _flag_breach(FLAG_RATE_FLOOR / 2, 0.0)


def test_unknown_devices_count_as_the_device_unknown_flag(fleet):
    baseline_hours("flag_rate", "DEVICE_UNKNOWN", count=0, total=1000)
    msgs = readings(fleet)
    msgs += [message("REF-US-W-UNKNOWN01", H + timedelta(minutes=m)) for m in range(5)]
    ingest(msgs)

    data_quality_hour(hour=H, now=H + timedelta(hours=1))

    row = stored("flag_rate", "DEVICE_UNKNOWN")
    assert (row.count, row.total) == (5, 65)
    assert stored("quarantine_rate").value == pytest.approx(5 / 65)
    assert open_alert("data_flag_mix", "DEVICE_UNKNOWN") is not None


def test_dead_lettered_readings_count_as_reporting_devices_without_sensors(fleet):
    msgs = readings(fleet[:9])
    msgs += [
        message(fleet[9], H + timedelta(minutes=m), readings={s: None for s in SENSOR_NAMES})
        for m in range(3)
    ]
    ingest(msgs)
    data_quality_hour(hour=H, now=H + timedelta(hours=1))
    assert stored("dead_letter_rate").count == 3
    availability = stored("availability", "temperature_evaporator")
    assert (availability.count, availability.total) == (9, 10)


def write_completeness(fleet, values):
    DeviceFeatures.objects.bulk_create(
        DeviceFeatures(
            device_id=device,
            window_start=H,
            window_end=H + timedelta(hours=1),
            window_duration_minutes=60,
            reading_count=60,
            sensor_completeness=value,
            quality_flag_count=0,
        )
        for device, value in zip(fleet, values, strict=True)
    )


@pytest.mark.parametrize(
    ("values", "median", "fires"),
    [
        ([0.7] * 4 + [0.8] * 2 + [1.0] * 4, 0.8, False),  # median exactly 0.8: the limit
        ([0.7] * 5 + [0.78] + [1.0] * 4, 0.74, True),
    ],
)
def test_completeness_median_of_the_hour_windows(fleet, values, median, fires):
    write_completeness(fleet, values)
    data_quality_hour(hour=H, now=H + timedelta(hours=1))
    row = stored("completeness_median")
    assert row.value == pytest.approx(median) and row.count == 10
    assert stored("completeness_median", scope="WF-5HP/temperate").value == pytest.approx(median)
    alert = open_alert("data_completeness", "fleet")
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "data-completeness"


def test_a_replayed_hour_replaces_its_rows_and_leaves_monitors_alone(fleet):
    ingest(readings(fleet, null={"humidity": 60}))
    data_quality_hour(hour=H, now=H + timedelta(hours=1), monitors=False)
    first = DataQualityHourly.objects.filter(hour=H).count()
    data_quality_hour(hour=H, now=H + timedelta(hours=2), monitors=False)
    assert DataQualityHourly.objects.filter(hour=H).count() == first
    assert not MonitorAlert.objects.exists()


def test_the_hour_must_be_a_clock_hour(fleet):
    with pytest.raises(ValueError, match="not the start of an hour"):
        data_quality_hour(hour=H + timedelta(minutes=5))
    assert last_closed_hour(H + timedelta(minutes=30)) == H - timedelta(hours=1)


def test_the_hourly_task_runs_the_last_closed_hour_and_replays_without_monitors(fleet, monkeypatch):
    from django.utils import timezone as django_timezone

    from monitoring.tasks import data_quality_hourly_task

    ingest(readings(fleet, null={"subcooling": 60}))
    monkeypatch.setattr(django_timezone, "now", lambda: H + timedelta(hours=1, minutes=30))

    result = data_quality_hourly_task()

    assert result["hour"] == H.isoformat() and result["readings"] == 60
    assert "availability:subcooling" in result["flagged"]
    assert result["drift_monitors"] == {"feature_drift": 0, "pipeline_suspect": 0}
    assert open_alert("data_sensor_availability", "subcooling") is not None

    MonitorAlert.objects.all().delete()
    replay = data_quality_hourly_task(hour=H.isoformat())
    assert replay["rows"] == DataQualityHourly.objects.filter(hour=H).count()
    assert not MonitorAlert.objects.exists()
