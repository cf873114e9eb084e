"""C3 features in SQL against values computed by hand from the same readings."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fleetmon.sensors import SENSOR_NAMES
from quality.ingest import ingest_messages
from scoring.models import DeviceFeatures
from scoring.services.features import features_compute, features_refresh, window_floor
from tests.conftest import NORMAL_READINGS, message

pytestmark = [pytest.mark.django_db, pytest.mark.storage]
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def feed(device_id, rows, received_at=T0 + timedelta(hours=1)):
    """rows: list of (minute offset, {sensor: value}) merged over NORMAL_READINGS."""
    ingest_messages(
        messages=[
            message(device_id, T0 + timedelta(minutes=m), values=values) for m, values in rows
        ],
        received_at=received_at,
    )


def test_fifteen_minute_window_matches_hand_computation(devices):
    dev = devices[0].device_id
    evap = [-20.0, -19.5, -19.0, -18.0, -18.5]
    current = [10.0, 12.0, None, 14.0, 11.0]
    vibration = [2.0, 2.5, 3.0, 9.0, 2.2]
    rows = [
        (
            m,
            {
                "temperature_evaporator": e,
                "current_compressor": c,
                "vibration_compressor": v,
                "door_open_close": m == 4,
                "humidity": 150.0 if m == 2 else 45.0,
            },
        )
        for m, e, c, v in zip(range(5), evap, current, vibration, strict=True)
    ]
    feed(dev, rows)

    assert features_compute(minutes=15, start=T0, end=T0 + timedelta(minutes=15)) == 1
    f = DeviceFeatures.objects.get(device_id=dev)
    minutes = np.arange(5.0)
    assert (f.window_start, f.window_end, f.reading_count) == (T0, T0 + timedelta(minutes=15), 5)
    assert f.temp_evaporator_mean == pytest.approx(np.mean(evap))
    assert f.temp_evaporator_std == pytest.approx(np.std(evap, ddof=1))
    assert (f.temp_evaporator_min, f.temp_evaporator_max) == (-20.0, -18.0)
    assert f.temp_evaporator_slope == pytest.approx(np.polyfit(minutes, evap, 1)[0])
    assert f.current_compressor_mean == pytest.approx(np.mean([10, 12, 14, 11]))  # null skipped
    assert f.vibration_compressor_p95 == pytest.approx(np.percentile(vibration, 95))
    assert f.door_open_fraction == pytest.approx(0.2)
    assert f.humidity_mean == pytest.approx(45.0)  # the out-of-range 150 became null
    # Two nulls of 14 (current at minute 2, humidity at minute 2) over 5 readings.
    assert f.sensor_completeness == pytest.approx(1 - 2 / 14 / 5)
    assert f.quality_flag_count == 1  # RANGE_VIOLATION at minute 2
    assert f.pressure_ratio == pytest.approx(1500 / 200)
    spread = 40.0 - np.mean(evap)
    assert f.temp_spread_evap_cond == pytest.approx(spread)
    assert f.current_per_temp_spread == pytest.approx(np.mean([10, 12, 14, 11]) / spread)
    assert f.temp_spread_discharge_suction == pytest.approx(70.0 - (-10.0))


def test_single_reading_window_has_null_spread_and_slope(devices):
    feed(devices[0].device_id, [(3, {})])
    features_compute(minutes=15, start=T0, end=T0 + timedelta(minutes=15))
    f = DeviceFeatures.objects.get()
    assert f.reading_count == 1
    assert f.temp_evaporator_std is None and f.temp_evaporator_slope is None
    assert f.temp_evaporator_mean == NORMAL_READINGS["temperature_evaporator"]


def test_all_null_sensor_gives_null_features_and_guarded_ratios(devices):
    nothing_low = {"pressure_low_side": None, "temperature_condenser": None}
    feed(devices[0].device_id, [(m, nothing_low) for m in range(3)])
    features_compute(minutes=15, start=T0, end=T0 + timedelta(minutes=15))
    f = DeviceFeatures.objects.get()
    assert f.pressure_low_mean is None and f.pressure_ratio is None
    assert f.temp_spread_evap_cond is None and f.current_per_temp_spread is None


def test_zero_or_negative_denominators_give_null_ratios(devices):
    # Condenser colder than the evaporator: a negative spread, so no current per spread.
    inverted = {"temperature_condenser": 21.0, "temperature_evaporator": 25.0}
    feed(devices[0].device_id, [(m, inverted) for m in range(3)])
    features_compute(minutes=15, start=T0, end=T0 + timedelta(minutes=15))
    f = DeviceFeatures.objects.get()
    assert f.temp_spread_evap_cond == pytest.approx(-4.0)
    assert f.current_per_temp_spread is None


def test_windows_are_clock_aligned_and_recompute_is_idempotent(devices):
    dev = devices[0].device_id
    feed(dev, [(m, {}) for m in range(0, 60, 1)])
    assert features_compute(minutes=15, start=T0, end=T0 + timedelta(hours=1)) == 4
    assert features_compute(minutes=60, start=T0, end=T0 + timedelta(hours=1)) == 1
    quarters = DeviceFeatures.objects.filter(window_duration_minutes=15).order_by("window_start")
    before = list(quarters.values_list("window_start", "reading_count"))
    assert features_compute(minutes=15, start=T0, end=T0 + timedelta(hours=1)) == 4
    after = list(quarters.values_list("window_start", "reading_count"))
    assert before == after
    starts = [s for s, n in after if n == 15]
    assert starts == [T0 + timedelta(minutes=15 * i) for i in range(4)]


def test_late_readings_are_picked_up_by_the_next_refresh(devices):
    dev = devices[0].device_id
    feed(dev, [(m, {}) for m in range(0, 50)])
    features_refresh(now=T0 + timedelta(hours=1, minutes=1))
    hour = DeviceFeatures.objects.get(window_duration_minutes=60)
    assert hour.reading_count == 50
    feed(dev, [(m, {}) for m in range(50, 60)], received_at=T0 + timedelta(hours=1, minutes=5))
    features_refresh(now=T0 + timedelta(hours=1, minutes=20))
    hour.refresh_from_db()
    assert hour.reading_count == 60


def test_window_floor():
    moment = datetime(2026, 11, 26, 10, 37, 12, tzinfo=UTC)
    assert window_floor(moment, 15) == datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
    assert window_floor(moment, 60) == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert window_floor(moment, 1440) == datetime(2026, 11, 26, tzinfo=UTC)


def test_every_sensor_feeds_some_feature():
    from scoring.features import AGGREGATES

    assert {a.sensor for a in AGGREGATES} == set(SENSOR_NAMES)
