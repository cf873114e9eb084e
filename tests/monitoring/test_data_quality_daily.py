"""`data_quality_daily_summary` (domain §3.8) on a crafted day of readings."""

from datetime import UTC, date, datetime, timedelta

import pytest

from fleetmon.registry.models import Device
from fleetmon.sensors import SENSOR_NAMES
from monitoring.data_quality import data_quality_daily_summary
from monitoring.models import DataQualityDailySummary
from monitoring.tasks import data_quality_daily_task
from quality.ingest import ingest_messages
from scoring.models import DeviceFeatures
from tests.conftest import message, register_devices

pytestmark = [pytest.mark.django_db, pytest.mark.storage]

DAY = date(2026, 11, 20)
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


def ingest_at(when, messages):
    result = ingest_messages(messages=messages, received_at=when)
    assert result.rejected == 0, result.errors


@pytest.fixture
def day_of_readings(db):
    fleet = [d.device_id for d in register_devices(4)]
    # 06:00 and 18:00: 4 devices x 5 readings each time; device 3 has no humidity.
    for hour in (6, 18):
        start = MIDNIGHT + timedelta(hours=hour)
        msgs = [
            message(d, start + timedelta(minutes=m), values={"humidity": None} if i == 3 else {})
            for i, d in enumerate(fleet)
            for m in range(5)
        ]
        # Two range violations, one clock-drifted reading (sent with a 3-day-old clock).
        msgs[0]["readings"]["pressure_high_side"] = 9000.0
        msgs[1]["readings"]["pressure_high_side"] = 9000.0
        ingest_at(start + timedelta(minutes=6), msgs)
    drifted = message(fleet[0], MIDNIGHT - timedelta(days=3) + timedelta(hours=12))
    ingest_at(MIDNIGHT + timedelta(hours=12), [drifted])  # lands at 12:00 with CLOCK_DRIFT
    # Three readings from an unknown device, two with every sensor null.
    ingest_at(
        MIDNIGHT + timedelta(hours=9),
        [message("REF-US-W-GHOST0001", MIDNIGHT + timedelta(hours=9, minutes=m)) for m in range(3)]
        + [
            message(
                fleet[1],
                MIDNIGHT + timedelta(hours=9, minutes=m),
                readings=dict.fromkeys(SENSOR_NAMES),
            )
            for m in range(2)
        ],
    )
    # Readings of the next day are not this day's.
    ingest_at(
        MIDNIGHT + timedelta(days=1, minutes=5), [message(fleet[2], MIDNIGHT + timedelta(days=1))]
    )
    Device.objects.filter(device_id=fleet[0]).update(dropout_state="FREQUENCY_DEGRADATION")
    Device.objects.filter(device_id=fleet[1]).update(dropout_state="FULL_DROPOUT")
    DeviceFeatures.objects.bulk_create(
        DeviceFeatures(
            device_id=d,
            window_start=MIDNIGHT,
            window_end=MIDNIGHT + timedelta(days=1),
            window_duration_minutes=1440,
            reading_count=10,
            sensor_completeness=c,
            quality_flag_count=0,
        )
        for d, c in zip(fleet, [1.0, 0.9, 0.95, 13 / 14], strict=True)
    )
    return fleet


def test_daily_summary_counts_the_day(day_of_readings):
    summary = data_quality_daily_summary(day=DAY, now=MIDNIGHT + timedelta(days=1, minutes=30))

    assert summary.clean_readings == 41  # 2 x 20 + the clock-drifted one
    assert summary.quarantined == 3 and summary.dead_lettered == 2
    assert summary.total_readings == 46
    assert summary.quarantine_rate == pytest.approx(3 / 46)
    assert summary.dead_letter_rate == pytest.approx(2 / 46)
    assert summary.flag_counts["RANGE_VIOLATION"] == 4
    assert summary.flag_counts["CLOCK_DRIFT"] == 1
    assert summary.flag_counts["DEVICE_UNKNOWN"] == 3
    assert summary.flag_counts["SENSOR_GAP"] == 0
    assert summary.flagged_readings == 5
    assert set(summary.null_rates) == set(SENSOR_NAMES)
    assert summary.null_rates["humidity"] == pytest.approx(10 / 41)
    assert summary.null_rates["pressure_high_side"] == pytest.approx(4 / 41)
    assert summary.null_rates["temperature_evaporator"] == 0.0
    assert summary.dropout_states == {
        "HEALTHY": 2,
        "FREQUENCY_DEGRADATION": 1,
        "FULL_DROPOUT": 1,
    }
    assert summary.devices_reporting == 4
    assert summary.completeness_median == pytest.approx((0.95 + 13 / 14) / 2)


def test_daily_summary_rerun_replaces_the_row(day_of_readings):
    data_quality_daily_summary(day=DAY)
    ingest_at(
        MIDNIGHT + timedelta(hours=20),
        [message(day_of_readings[2], MIDNIGHT + timedelta(hours=20))],
    )
    data_quality_daily_task(day=DAY.isoformat())
    assert DataQualityDailySummary.objects.count() == 1
    assert DataQualityDailySummary.objects.get().clean_readings == 42


def test_an_empty_day_has_a_summary_with_no_rates(db):
    summary = data_quality_daily_summary(day=DAY)
    assert (summary.total_readings, summary.quarantine_rate) == (0, None)
    assert summary.null_rates["humidity"] is None
