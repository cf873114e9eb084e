"""The synthetic fleet: layout, deterministic readings, realism, and fault signatures."""

import json
import math
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fleetmon.sensors import NUMERIC_SENSORS, SENSOR_BY_NAME, SENSOR_NAMES
from fleetmon.simulator.faults import FaultSpec, FaultType, plan_faults
from fleetmon.simulator.fleet import REGIONS, FleetLayout, make_fleet
from fleetmon.simulator.generator import FleetGenerator, to_messages

T0 = datetime(2026, 11, 26, tzinfo=UTC)
DAY = timedelta(days=1)
SEED = 42
VIBRATION = "vibration_compressor"
EVAP = "temperature_evaporator"


@pytest.fixture(scope="module")
def fleet() -> FleetLayout:
    return make_fleet(60, seed=SEED)


@pytest.fixture(scope="module")
def normal(fleet: FleetLayout) -> pd.DataFrame:
    """Two fault-free days of the whole fleet without random nulls."""
    return FleetGenerator(fleet, [], seed=SEED, null_rate=0.0).frame(T0, T0 + 2 * DAY)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Return (start index, length) of each run of True."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def per_device(frame: pd.DataFrame):
    """Yield (device_id, rows sorted by time) for each device of a frame."""
    for device_id, rows in frame.groupby("device_id", sort=True):
        yield device_id, rows.sort_values("timestamp").reset_index(drop=True)


def quiet_mask(rows: pd.DataFrame, after_min: int) -> np.ndarray:
    """Return rows outside defrost and the `after_min` minutes after one."""
    recent = rows["defrost_cycle"].rolling(after_min + 1, min_periods=1).max()
    return (recent == 0).to_numpy()


# --- fleet layout ------------------------------------------------------------------------


def test_make_fleet_is_deterministic_for_a_seed():
    assert make_fleet(50, seed=7) == make_fleet(50, seed=7)
    assert make_fleet(50, seed=7) != make_fleet(50, seed=8)


def test_device_and_site_ids_match_their_formats(fleet):
    assert len({d.device_id for d in fleet.devices}) == len(fleet.devices) == 60
    for device in fleet.devices:
        assert re.fullmatch(r"REF-US-[WCES]-\d{8}", device.device_id)
        assert device.device_id.startswith(f"REF-{device.region}-")
    for site in fleet.sites:
        assert re.fullmatch(r"SITE-US-[A-Z]{3}-\d{4}", site.site_id)
    assert {d.site_id for d in fleet.devices} <= {s.site_id for s in fleet.sites}


def test_all_regions_are_represented_from_forty_devices():
    layout = make_fleet(40, seed=3)
    assert {d.region for d in layout.devices} == set(REGIONS)
    assert {s.region for s in layout.sites} == set(REGIONS)


def test_devices_share_their_sites_region_and_climate_zone(fleet):
    sites = {s.site_id: s for s in fleet.sites}
    for device in fleet.devices:
        site = sites[device.site_id]
        assert (device.region, device.climate_zone) == (site.region, site.climate_zone)


def test_about_ten_percent_of_devices_the_oldest_lack_vibration():
    layout = make_fleet(200, seed=5)
    lacking = [d for d in layout.devices if VIBRATION not in d.sensors]
    having = [d for d in layout.devices if VIBRATION in d.sensors]
    assert len(lacking) == 20
    assert max(d.install_date for d in lacking) <= min(d.install_date for d in having)
    assert all(len(d.sensors) == 13 for d in lacking)


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(fleet):
    first = FleetGenerator(fleet, [], seed=1).frame(T0, T0 + timedelta(hours=3))
    second = FleetGenerator(fleet, [], seed=1).frame(T0, T0 + timedelta(hours=3))
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_different_seeds_give_different_values(fleet):
    first = FleetGenerator(fleet, [], seed=1).frame(T0, T0 + timedelta(hours=3))
    second = FleetGenerator(fleet, [], seed=2).frame(T0, T0 + timedelta(hours=3))
    assert not np.allclose(first[EVAP], second[EVAP], equal_nan=True)


def test_chunked_frames_equal_the_whole_frame_even_with_faults():
    layout = make_fleet(24, seed=9)
    faults = plan_faults(layout, seed=9, start=T0, end=T0 + 2 * DAY, fraction=0.5)
    generator = FleetGenerator(layout, faults, seed=9)
    cut = T0 + timedelta(hours=17, minutes=23)
    whole = generator.frame(T0, T0 + 2 * DAY)
    chunked = pd.concat(
        [generator.frame(T0, cut), generator.frame(cut, T0 + 2 * DAY)], ignore_index=True
    )
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)


def test_minute_by_minute_frames_equal_the_whole_frame():
    layout = make_fleet(12, seed=10)
    faults = plan_faults(layout, seed=10, start=T0, end=T0 + 4 * timedelta(hours=1), fraction=1)
    generator = FleetGenerator(layout, faults, seed=10)
    minutes = [T0 + timedelta(minutes=m) for m in range(0, 241, 1)]
    pieces = [generator.frame(a, b) for a, b in zip(minutes, minutes[1:], strict=False)]
    whole = generator.frame(T0, minutes[-1])
    pd.testing.assert_frame_equal(whole, pd.concat(pieces, ignore_index=True), check_exact=True)


def test_frame_has_the_contract_columns_dtypes_and_order(fleet):
    frame = FleetGenerator(fleet, [], seed=1).frame(T0, T0 + timedelta(minutes=5))
    assert list(frame.columns) == ["device_id", "timestamp", *SENSOR_NAMES]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(frame[name].dtype == np.float64 for name in SENSOR_NAMES)
    assert len(frame) == 5 * len(fleet.devices)
    assert (frame["timestamp"].dt.second == 0).all()
    keys = list(zip(frame["timestamp"], frame["device_id"], strict=True))
    assert keys == sorted(keys)


def test_empty_window_gives_an_empty_frame_with_the_columns(fleet):
    frame = FleetGenerator(fleet, [], seed=1).frame(T0, T0)
    assert frame.empty
    assert list(frame.columns) == ["device_id", "timestamp", *SENSOR_NAMES]


def test_unaligned_or_naive_datetimes_are_rejected(fleet):
    generator = FleetGenerator(fleet, [], seed=1)
    with pytest.raises(ValueError):
        generator.frame(T0 + timedelta(seconds=30), T0 + DAY)
    with pytest.raises(ValueError):
        generator.frame(T0.replace(tzinfo=None), T0 + DAY)


# --- realism of fault-free readings ------------------------------------------------------


def test_fault_free_values_stay_inside_the_contract_ranges(normal):
    for name in NUMERIC_SENSORS:
        sensor = SENSOR_BY_NAME[name]
        values = normal[name].dropna()
        assert values.between(sensor.low, sensor.high).all(), name
    for name in ("door_open_close", "defrost_cycle"):
        assert set(normal[name].unique()) == {0.0, 1.0}


def test_fault_free_fleet_never_triggers_the_streaming_rules(normal):
    for device_id, rows in per_device(normal):
        rising = rows[EVAP].diff().to_numpy() > 2.0
        rising &= quiet_mask(rows, after_min=30)
        assert max((n for _, n in runs(rising)), default=0) < 3, device_id
        assert rows["current_compressor"].max() < 40.0, device_id
        low_side = rows["pressure_low_side"]
        assert (low_side / low_side.rolling(6, min_periods=1).max()).min() > 0.7, device_id
        vibration = rows[VIBRATION]
        if vibration.notna().any():
            mean_24h = vibration.rolling(1440, min_periods=720).mean()
            assert (vibration / mean_24h).max() < 2.5, device_id


def test_fault_free_doors_never_stay_open_longer_than_15_minutes(normal):
    for device_id, rows in per_device(normal):
        longest = max((n for _, n in runs(rows["door_open_close"] == 1.0)), default=0)
        assert longest <= 15, device_id


def test_doors_are_open_about_five_percent_of_the_time(normal):
    assert normal["door_open_close"].mean() == pytest.approx(0.05, abs=0.01)


def test_evaporator_moves_smoothly_outside_defrost(normal):
    for device_id, rows in per_device(normal):
        steps = rows[EVAP].diff().abs().to_numpy()
        quiet = quiet_mask(rows, after_min=60) & (rows.index >= 60)
        assert np.nanmax(steps[quiet]) < 1.2, device_id


def test_defrost_runs_every_6_to_8_hours_for_20_to_40_minutes(normal, fleet):
    for device_id, rows in per_device(normal):
        cycles = runs(rows["defrost_cycle"] == 1.0)
        # A run touching the window edge is cut short; judge only whole ones.
        whole = [(a, n) for a, n in cycles if a > 0 and a + n < len(rows)]
        assert whole, device_id
        assert all(20 <= n <= 40 for _, n in whole), device_id
        starts = np.array([a for a, _ in cycles if a > 0])
        assert all(360 <= gap <= 480 for gap in np.diff(starts)), device_id
        assert np.diff(starts).max() == fleet.device(device_id).defrost_interval_min


def test_evaporator_is_warmer_during_defrost_and_compressor_is_off(normal):
    defrost = normal["defrost_cycle"] == 1.0
    assert normal.loc[defrost, EVAP].mean() > normal.loc[~defrost, EVAP].mean() + 10.0
    assert normal.loc[defrost, "current_compressor"].max() < 1.0
    assert normal["defrost_cycle"].mean() == pytest.approx(0.075, abs=0.02)


def test_evaporator_means_follow_the_equipment_model():
    layout = make_fleet(120, seed=4)
    frame = FleetGenerator(layout, [], seed=4, null_rate=0.0).frame(T0, T0 + DAY)
    models = {d.device_id: d.equipment_model for d in layout.devices}
    frame = frame[frame["defrost_cycle"] == 0.0]
    means = frame.groupby(frame["device_id"].map(models))[EVAP].mean()
    assert means["WF-5HP"] == pytest.approx(-20.0, abs=1.5)
    assert means["DC-2HP"] == pytest.approx(-5.0, abs=1.5)
    assert means["DF-3HP"] < means["WF-5HP"] < means["WC-3HP"]


def test_spec_correlations_roughly_hold_within_a_device(normal):
    pairs = {
        (EVAP, "current_compressor"): 0.6,
        ("pressure_high_side", "temperature_condenser"): 0.7,
        ("superheat", "temperature_suction"): 0.5,
        ("current_compressor", VIBRATION): 0.4,
    }
    estimates: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    for _, rows in per_device(normal):
        steady = rows[quiet_mask(rows, after_min=60) & (rows["door_open_close"] == 0.0)]
        for a, b in pairs:
            if steady[b].notna().any():
                estimates[(a, b)].append(steady[a].corr(steady[b]))
    for pair, target in pairs.items():
        assert np.median(estimates[pair]) == pytest.approx(target, abs=0.2), pair


def test_random_nulls_come_at_the_requested_rate(fleet):
    frame = FleetGenerator(fleet, [], seed=3, null_rate=0.02).frame(T0, T0 + timedelta(hours=6))
    having = [name for name in SENSOR_NAMES if name != VIBRATION]
    assert frame[having].isna().to_numpy().mean() == pytest.approx(0.02, abs=0.003)


def test_devices_without_vibration_report_it_as_nan(fleet, normal):
    lacking = {d.device_id for d in fleet.devices if VIBRATION not in d.sensors}
    assert lacking
    rows = normal["device_id"].isin(lacking)
    assert normal.loc[rows, VIBRATION].isna().all()
    assert normal.loc[~rows, VIBRATION].notna().all()


def test_messages_follow_the_raw_format(fleet):
    frame = FleetGenerator(fleet, [], seed=3, null_rate=0.3).frame(T0, T0 + timedelta(minutes=2))
    messages = to_messages(frame, fleet)
    assert len(messages) == len(frame)
    json.dumps(messages)
    by_id = {d.device_id: d for d in fleet.devices}
    for message in messages:
        assert set(message) == {"device_id", "timestamp", "readings"}
        assert re.fullmatch(r"2026-11-26T00:0[01]:00Z", message["timestamp"])
        assert set(message["readings"]) == set(by_id[message["device_id"]].sensors)
        for name, value in message["readings"].items():
            kind = bool if SENSOR_BY_NAME[name].kind == "boolean" else float
            assert value is None or type(value) is kind
    assert any(v is None for m in messages for v in m["readings"].values())


# --- faults --------------------------------------------------------------------------------


def test_fault_types_are_exactly_the_seed_and_acute_types():
    assert {t.value for t in FaultType} == {
        "compressor_vibration_spike",
        "refrigerant_leak",
        "temperature_drift",
        "sensor_failure",
        "intermittent_dropout",
        "compressor_overload",
        "pressure_loss_acute",
        "cooling_loss_total",
        "door_left_open",
        "defrost_too_long",
        "missed_defrost",
        "full_dropout",
    }


def test_plan_faults_is_deterministic_and_spreads_types_inside_the_window():
    layout = make_fleet(240, seed=8)
    plan = plan_faults(layout, seed=8, start=T0, end=T0 + 2 * DAY, fraction=0.05)
    assert plan == plan_faults(layout, seed=8, start=T0, end=T0 + 2 * DAY, fraction=0.05)
    assert len(plan) == 12
    assert {f.fault_type for f in plan} == set(FaultType)
    assert len({f.device_id for f in plan}) == len(plan)
    for fault in plan:
        assert T0 <= fault.start < fault.end <= T0 + 2 * DAY
        assert fault.start.second == 0 and fault.start.tzinfo is not None
        json.dumps(fault.as_dict())


def planned(fleet: FleetLayout, fault_type: FaultType) -> FaultSpec:
    """Plan one fault of a type over two days."""
    (fault,) = plan_faults(
        fleet, seed=SEED, start=T0, end=T0 + 2 * DAY, fraction=1e-9, types=[fault_type]
    )
    return fault


def frames(
    fleet: FleetLayout, fault: FaultSpec, *, before: timedelta = DAY, after: timedelta = DAY
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the faulty device with and without its fault, indexed by timestamp."""
    device = FleetLayout(sites=fleet.sites, devices=(fleet.device(fault.device_id),))
    start, end = T0 - before, T0 + 2 * DAY + after
    faulty = FleetGenerator(device, [fault], seed=SEED, null_rate=0.0).frame(start, end)
    clean = FleetGenerator(device, [], seed=SEED, null_rate=0.0).frame(start, end)
    return faulty.set_index("timestamp"), clean.set_index("timestamp")


@pytest.mark.parametrize("fault_type", list(FaultType))
def test_fault_leaves_readings_untouched_before_it_starts(fleet, fault_type):
    fault = planned(fleet, fault_type)
    faulty, clean = frames(fleet, fault)
    before = clean.index < fault.start
    pd.testing.assert_frame_equal(faulty[faulty.index < fault.start], clean[before])
    assert not faulty[faulty.index >= fault.start].equals(clean[~before])


def test_vibration_spike_multiplies_vibration_by_4_and_current_by_1_5(fleet):
    fault = planned(fleet, FaultType.COMPRESSOR_VIBRATION_SPIKE)
    faulty, clean = frames(fleet, fault)
    # A compressor stopped for defrost does not vibrate, bearing fault or not.
    running = faulty["defrost_cycle"] == 0.0
    window = (faulty.index >= fault.start) & (faulty.index < fault.end) & running
    assert window.sum() > 60
    ratio = faulty.loc[window, VIBRATION] / clean.loc[window, VIBRATION]
    assert ratio.to_numpy() == pytest.approx(4.0)
    ratio = faulty.loc[window, "current_compressor"] / clean.loc[window, "current_compressor"]
    assert ratio.to_numpy() == pytest.approx(1.5)


def test_refrigerant_leak_bleeds_low_side_pressure_and_warms_the_evaporator(fleet):
    fault = planned(fleet, FaultType.REFRIGERANT_LEAK)
    faulty, clean = frames(fleet, fault, after=timedelta(0))
    window = faulty.index >= fault.start
    hours = (faulty.index[window] - fault.start) / timedelta(hours=1)
    expected = clean.loc[window, "pressure_low_side"] * np.maximum(0.3, 1 - 0.03 * hours)
    lifted = expected > 50.0  # below the 50 kPa floor the value is clipped
    actual = faulty.loc[window, "pressure_low_side"]
    assert actual[lifted].to_numpy() == pytest.approx(expected[lifted].to_numpy())
    # Defrost heats the coil to its termination temperature whatever the charge.
    steady = quiet_mask(faulty.reset_index(), after_min=45)[window]
    warming = (faulty.loc[window, EVAP] - clean.loc[window, EVAP])[steady]
    cap = fault.params["evap_rise_cap_c"]
    assert warming.to_numpy() == pytest.approx(np.minimum(0.5 * hours[steady], cap), abs=1e-6)
    assert warming.iloc[-1] > 5.0


def test_temperature_drift_warms_the_evaporator_0_2_degrees_per_hour(fleet):
    fault = planned(fleet, FaultType.TEMPERATURE_DRIFT)
    faulty, clean = frames(fleet, fault, after=timedelta(0))
    window = faulty.index >= fault.start
    hours = (faulty.index[window] - fault.start) / timedelta(hours=1)
    steady = quiet_mask(faulty.reset_index(), after_min=45)[window]
    warming = (faulty.loc[window, EVAP] - clean.loc[window, EVAP]).to_numpy()
    slope = np.polyfit(hours[steady], warming[steady], 1)[0]
    assert slope == pytest.approx(0.2, abs=0.01)


def test_sensor_failure_sticks_the_evaporator_probe(fleet):
    fault = planned(fleet, FaultType.SENSOR_FAILURE)
    faulty, _ = frames(fleet, fault)
    window = (faulty.index >= fault.start) & (faulty.index < fault.end)
    assert faulty.loc[window, EVAP].nunique() == 1
    assert faulty.loc[window, EVAP].iloc[0] == fault.params["stuck_value"]
    assert faulty.loc[~window & (faulty.index < fault.start), EVAP].std() > 0.5


def test_intermittent_dropout_sends_about_30_percent_all_null_rows(fleet):
    fault = planned(fleet, FaultType.INTERMITTENT_DROPOUT)
    faulty, _ = frames(fleet, fault, after=timedelta(0))
    all_null = faulty[list(SENSOR_NAMES)].isna().all(axis=1)
    window = faulty.index >= fault.start
    assert all_null[window].mean() == pytest.approx(0.3, abs=0.05)
    assert not all_null[~window].any()


def test_compressor_overload_holds_current_above_40_amps(fleet):
    fault = planned(fleet, FaultType.COMPRESSOR_OVERLOAD)
    faulty, _ = frames(fleet, fault)
    window = (faulty.index >= fault.start) & (faulty.index < fault.end)
    assert (faulty.loc[window, "current_compressor"] > 40.0).all()
    assert (faulty.loc[~window, "current_compressor"] < 40.0).all()


def test_acute_pressure_loss_drops_low_side_30_percent_within_5_minutes(fleet):
    fault = planned(fleet, FaultType.PRESSURE_LOSS_ACUTE)
    faulty, clean = frames(fleet, fault, after=timedelta(0))
    low_side = faulty["pressure_low_side"]
    before = low_side[low_side.index < fault.start].iloc[-1]
    assert low_side.loc[fault.start + timedelta(minutes=5)] < 0.7 * before
    later = low_side.index >= fault.start + timedelta(minutes=5)
    assert (low_side[later] < 0.7 * clean.loc[later, "pressure_low_side"]).all()


def test_total_cooling_loss_heats_the_evaporator_fast_then_plateaus(fleet):
    fault = planned(fleet, FaultType.COOLING_LOSS_TOTAL)
    faulty, _ = frames(fleet, fault)
    window = faulty[(faulty.index >= fault.start) & (faulty.index < fault.end)]
    rising = window[EVAP].diff().to_numpy() > 2.0
    assert runs(rising)[0][1] >= 4
    assert window[EVAP].iloc[-30:].mean() == pytest.approx(fault.params["plateau_c"], abs=3.0)
    assert (window["current_compressor"] < 1.0).all()
    assert (window["defrost_cycle"] == 0.0).all()


def test_door_left_open_stays_open_longer_than_15_minutes(fleet):
    fault = planned(fleet, FaultType.DOOR_LEFT_OPEN)
    faulty, clean = frames(fleet, fault)
    window = (faulty.index >= fault.start) & (faulty.index < fault.end)
    assert (faulty.loc[window, "door_open_close"] == 1.0).all()
    assert window.sum() > 15
    warming = faulty.loc[window, EVAP] - clean.loc[window, EVAP]
    assert warming.iloc[-1] > warming.iloc[1] > 0.0
    assert warming.diff().max() < 2.0


def test_defrost_too_long_lasts_more_than_45_minutes(fleet):
    fault = planned(fleet, FaultType.DEFROST_TOO_LONG)
    faulty, _ = frames(fleet, fault)
    cycles = runs(faulty["defrost_cycle"] == 1.0)
    long_ones = [(faulty.index[a], n) for a, n in cycles if n > 45]
    assert long_ones == [(fault.start, fault.params["duration_min"])]


def test_missed_defrost_leaves_a_gap_longer_than_twice_the_interval(fleet):
    fault = planned(fleet, FaultType.MISSED_DEFROST)
    faulty, clean = frames(fleet, fault)
    interval = timedelta(minutes=fleet.device(fault.device_id).defrost_interval_min)
    starts = [faulty.index[a] for a, _ in runs(faulty["defrost_cycle"] == 1.0)]
    gaps = [(b - a, a, b) for a, b in zip(starts, starts[1:], strict=False)]
    longest, before, after = max(gaps)
    assert longest > 2 * interval
    assert before < fault.start and after >= fault.end
    clean_starts = [clean.index[a] for a, _ in runs(clean["defrost_cycle"] == 1.0)]
    assert max(b - a for a, b in zip(clean_starts, clean_starts[1:], strict=False)) == interval


def test_full_dropout_leaves_no_rows(fleet):
    fault = planned(fleet, FaultType.FULL_DROPOUT)
    faulty, clean = frames(fleet, fault)
    window = (clean.index >= fault.start) & (clean.index < fault.end)
    assert not faulty.index.isin(clean.index[window]).any()
    assert len(faulty) == len(clean) - window.sum()
    assert fault.end in faulty.index and fault.start - timedelta(minutes=1) in faulty.index


def test_faults_for_unknown_devices_are_rejected(fleet):
    ghost = FaultSpec("REF-US-W-99999999", FaultType.FULL_DROPOUT, T0, T0 + DAY)
    with pytest.raises(ValueError, match="not in the fleet"):
        FleetGenerator(fleet, [ghost], seed=1)


def test_hand_written_fault_without_params_uses_spec_defaults(fleet):
    device = fleet.devices[0]
    fault = FaultSpec(device.device_id, FaultType.SENSOR_FAILURE, T0, T0 + DAY)
    layout = FleetLayout(sites=fleet.sites, devices=(device,))
    frame = FleetGenerator(layout, [fault], seed=1, null_rate=0.0).frame(T0, T0 + DAY)
    assert (frame[EVAP] == -25.0).all()
    assert not math.isnan(frame["superheat"].iloc[0])
