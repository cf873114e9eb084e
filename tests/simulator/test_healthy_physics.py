"""The normal cycle, measured on generated healthy readings (physics.md §1).

Thresholds are the typical ranges of refrigeration practice, checked as fleet or model
medians; no device parameter is read back, so a broken model fails these tests.
"""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fleetmon.sensors import NUMERIC_SENSORS, SENSOR_BY_NAME
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.shift import CovariateShift, ShiftedFleetGenerator
from tests.simulator.helpers import DAY, SEED, T0, runs

LOW_SIDE = "pressure_low_side"
EVAP = "temperature_evaporator"
CURRENT = "current_compressor"


def by_device(frame: pd.DataFrame):
    """Yield (device_id, rows in time order) for each device of a frame."""
    for device_id, rows in frame.groupby("device_id", sort=True):
        yield device_id, rows.sort_values("timestamp").reset_index(drop=True)


def inner_runs(flags) -> list[tuple[int, int]]:
    """Return the runs of True that neither start nor end at the window's edge."""
    flags = np.asarray(flags, dtype=bool)
    return [(a, n) for a, n in runs(flags) if a > 0 and a + n < len(flags)]


def cycles(rows: pd.DataFrame) -> tuple[list[int], list[int]]:
    """Return the run and rest lengths (minutes) of the thermostat, defrost excluded."""
    on = rows["compressor_on"].to_numpy(bool)
    defrosting = rows["defrost_cycle"].rolling(60, min_periods=1).max().to_numpy() > 0
    run_lengths = [n for a, n in inner_runs(on) if not defrosting[a : a + n].any()]
    rest_lengths = [n for a, n in inner_runs(~on) if not defrosting[a : a + n + 1].any()]
    return run_lengths, rest_lengths


def test_compressors_cycle_with_runs_and_rests_of_minutes(fleet, healthy):
    runs_, rests = [], []
    for _, rows in by_device(healthy):
        run_lengths, rest_lengths = cycles(rows)
        runs_.append(np.median(run_lengths))
        rests.append(np.median(rest_lengths))
    assert 5 <= np.median(runs_) <= 20
    assert 3 <= np.median(rests) <= 15
    assert np.percentile(runs_, 90) <= 30


def test_duty_cycle_is_forty_to_eighty_percent_for_every_model(fleet, healthy):
    models = {d.device_id: d.equipment_model for d in fleet.devices}
    duty = healthy.groupby("device_id")["compressor_on"].mean()
    by_model = duty.groupby(duty.index.map(models)).median()
    assert set(by_model.index) == {"WF-5HP", "WC-3HP", "DC-2HP", "DF-3HP"}
    assert by_model.between(0.4, 0.8).all(), by_model
    assert duty.between(0.3, 0.9).all()


def test_low_side_equalises_while_resting_and_is_pulled_down_at_restart(healthy):
    rises, drops = [], []
    for _, rows in by_device(healthy):
        on = rows["compressor_on"].to_numpy(bool)
        low = rows[LOW_SIDE].to_numpy()
        defrosting = rows["defrost_cycle"].rolling(90, min_periods=1).max().to_numpy() > 0
        for a, n in inner_runs(~on):
            if n < 8 or defrosting[a - 1 : a + n + 3].any() or a + n + 3 >= len(on):
                continue
            running, equalised = low[a - 1], low[a + n - 1]
            rises.append(equalised / running - 1.0)
            # Within three minutes of the restart the low side is pulled back down.
            drops.append(1.0 - low[a + n : a + n + 3].min() / equalised)
    assert len(rises) > 200
    assert np.nanmedian(rises) >= 0.2
    assert np.nanpercentile(rises, 90) >= 0.4
    assert 0.15 <= np.nanmedian(drops) <= 0.4


def test_rests_let_the_coil_warm_towards_the_box_air(healthy):
    gaps_running, gaps_resting = [], []
    for _, rows in by_device(healthy):
        quiet = rows["defrost_cycle"].rolling(90, min_periods=1).max() == 0
        gap = (rows["box_air"] - rows[EVAP])[quiet]
        on = rows["compressor_on"][quiet].astype(bool)
        gaps_running.append(gap[on].median())
        gaps_resting.append(gap[~on].median())
    assert np.median(gaps_running) > 5.0
    assert np.median(gaps_resting) < 0.5 * np.median(gaps_running)


def test_defrost_schedules_follow_the_equipment_profile(fleet, healthy):
    for device_id, rows in by_device(healthy):
        device = fleet.device(device_id)
        defrosts = inner_runs(rows["defrost_cycle"] == 1.0)
        if device.equipment_model == "DC-2HP":
            assert rows["defrost_cycle"].max() == 0.0
            continue
        starts = np.array([a for a, _ in runs(rows["defrost_cycle"] == 1.0) if a > 0])
        gaps = np.diff(starts) / 60.0
        assert gaps.size and np.all((gaps >= 5.4) & (gaps <= 8.1)), device_id
        lengths = [n for _, n in defrosts]
        # Minutes a link gap swallowed carry the previous reading: judge the others.
        on = rows["compressor_on"].to_numpy(bool)[rows["sent"].to_numpy(bool)]
        flags = rows["defrost_cycle"].to_numpy()[rows["sent"].to_numpy(bool)] == 1.0
        during = on[flags]
        if device.equipment_model == "WF-5HP":
            assert all(8 <= n <= 46 for n in lengths), (device_id, lengths)
            assert not during.any()  # electric: compressor off
        elif device.equipment_model == "DF-3HP":
            assert all(5 <= n <= 25 for n in lengths), (device_id, lengths)
            assert during.mean() > 0.5  # hot gas: the compressor runs, drip excepted
        else:
            assert not during.any()  # off-cycle: compressor off, no heater
            coil = np.concatenate([rows[EVAP].to_numpy()[a : a + n] for a, n in defrosts])
            assert coil.max() < 8.0


def test_heated_defrosts_warm_the_coil_then_pull_down(fleet, healthy):
    recoveries = []
    for device_id, rows in by_device(healthy):
        device = fleet.device(device_id)
        if device.equipment_model not in ("WF-5HP", "DF-3HP"):
            continue
        cut_in = device.physics.set_c + device.physics.band_k / 2
        for a, n in inner_runs(rows["defrost_cycle"] == 1.0):
            end = a + n
            if end + 45 >= len(rows):
                continue
            window = rows.iloc[end : end + 45]
            assert rows[EVAP].iloc[a:end].max() > 4.0
            # Pull-down: the coil and the low side fall fast, the current runs high.
            assert window[EVAP].iloc[12:18].min() < rows[EVAP].iloc[end - 1] - 15.0
            running = rows[CURRENT][rows["compressor_on"] == 1].median()
            assert window[CURRENT].iloc[:4].max() > running
            equalised = rows[LOW_SIDE].iloc[end - 3 : end].max()
            assert equalised > 1.2 * window[LOW_SIDE].iloc[15:20].min()
            back = np.flatnonzero(window["box_air"].to_numpy() <= cut_in)
            recoveries.append(back[0] if back.size else 45)
    assert recoveries
    assert np.median(recoveries) <= 30


def test_humidity_peaks_during_and_after_defrost(fleet, healthy):
    lifts = []
    for device_id, rows in by_device(healthy):
        if fleet.device(device_id).equipment_model not in ("WF-5HP", "DF-3HP"):
            continue
        for a, n in inner_runs(rows["defrost_cycle"] == 1.0):
            before = rows["humidity"].iloc[a - 30 : a].mean()
            peak = rows["humidity"].iloc[a : a + n + 20].max()
            lifts.append(peak - before)
    assert np.nanmedian(lifts) > 5.0


def test_healthy_readings_respect_the_contract_ranges(healthy):
    for name in NUMERIC_SENSORS:
        sensor = SENSOR_BY_NAME[name]
        values = healthy[name].dropna()
        assert values.between(sensor.low, sensor.high).all(), (
            name,
            values.min(),
            values.max(),
        )
    for name in ("door_open_close", "defrost_cycle"):
        assert set(healthy[name].dropna().unique()) == {0.0, 1.0}


def test_healthy_boxes_never_leave_their_safe_band_for_30_minutes(fleet, healthy):
    for device_id, rows in by_device(healthy):
        above = rows["box_air"] > fleet.device(device_id).safe_limit_c
        assert max((n for _, n in runs(above)), default=0) < 30, device_id


def test_superheat_and_subcooling_agree_with_the_probes(healthy):
    from fleetmon.simulator.refrigerant import tsat

    derived = healthy["temperature_suction"] - tsat(healthy[LOW_SIDE])
    assert np.allclose(healthy["superheat"], derived, atol=1e-9, equal_nan=True)
    running = healthy[healthy["compressor_on"] & (healthy["defrost_cycle"] == 0)]
    assert running["superheat"].median() == pytest.approx(6.0, abs=2.5)
    assert running["subcooling"].between(2.0, 10.0).mean() > 0.9


def test_ambient_follows_a_daily_cycle_peaking_in_the_afternoon(fleet, healthy):
    walk_ins = [d.device_id for d in fleet.devices if d.profile.kind == "walk_in"]
    frame = healthy[healthy["device_id"].isin(walk_ins)].copy()
    offsets = {d.device_id: d.utc_offset_h for d in fleet.devices}
    local = (frame["timestamp"].dt.hour + frame["device_id"].map(offsets)) % 24
    by_hour = frame.groupby(local)["temperature_ambient"].mean()
    assert 12 <= by_hour.idxmax() <= 18
    assert by_hour.max() - by_hour.min() > 3.0
    cases = [d.device_id for d in fleet.devices if d.profile.kind == "display_case"]
    store = healthy[healthy["device_id"].isin(cases)]
    swing = store.groupby("device_id")["temperature_ambient"].agg(lambda v: v.max() - v.min())
    walk_swing = frame.groupby("device_id")["temperature_ambient"].agg(lambda v: v.max() - v.min())
    assert swing.median() < 4.0
    assert walk_swing.quantile(0.75) > 2 * swing.median()


def test_display_case_doors_open_often_and_briefly_walk_ins_rarely_and_longer(fleet, healthy):
    kind = {d.device_id: d.profile.kind for d in fleet.devices}
    openings, lengths = {"walk_in": [], "display_case": []}, {"walk_in": [], "display_case": []}
    for device_id, rows in by_device(healthy):
        spans = runs(rows["door_open_close"] == 1.0)
        openings[kind[device_id]].append(len(spans) / 3.0)
        lengths[kind[device_id]].extend(n for _, n in spans)
    assert np.median(openings["display_case"]) > 2 * np.median(openings["walk_in"])
    assert healthy["door_open_close"].mean() == pytest.approx(0.05, abs=0.025)


def test_duty_cycle_rises_with_ambient(fleet, healthy):
    shift = CovariateShift(start=T0, ambient_c=8.0)
    hot = ShiftedFleetGenerator(fleet, [], seed=SEED, shifts=[shift], events=(), null_rate=0.0)
    warm = hot.frame(T0, T0 + DAY, with_state=True)
    base = healthy[healthy["timestamp"] < T0 + DAY]
    walk_ins = [d.device_id for d in fleet.devices if d.profile.kind == "walk_in"]
    duty_hot = warm.groupby("device_id")["compressor_on"].mean()[walk_ins]
    duty_base = base.groupby("device_id")["compressor_on"].mean()[walk_ins]
    assert (duty_hot > duty_base).mean() > 0.8
    assert (duty_hot - duty_base).median() > 0.02
    condensing = warm.groupby("device_id")["temperature_condenser"].mean()[walk_ins]
    assert (
        condensing - base.groupby("device_id")["temperature_condenser"].mean()[walk_ins]
    ).median() > 4.0


def test_covariate_shift_stays_in_its_region_and_chunks_add_up(fleet):
    region = fleet.devices[0].region
    shift = CovariateShift(start=T0 + timedelta(hours=2), ambient_c=6.0, region=region)
    generator = ShiftedFleetGenerator(fleet, [], seed=SEED, shifts=[shift], events=())
    whole = generator.frame(T0, T0 + timedelta(hours=4))
    again = ShiftedFleetGenerator(fleet, [], seed=SEED, shifts=[shift], events=())
    parts = pd.concat(
        [
            again.frame(T0, T0 + timedelta(hours=3)),
            again.frame(T0 + timedelta(hours=3), T0 + timedelta(hours=4)),
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(whole, parts, check_exact=True)
    plain = FleetGenerator(fleet, [], seed=SEED, events=()).frame(T0, T0 + timedelta(hours=4))
    moved = whole["temperature_ambient"].to_numpy() != plain["temperature_ambient"].to_numpy()
    moved_ids = set(
        whole.loc[moved & ~np.isnan(plain["temperature_ambient"].to_numpy()), "device_id"]
    )
    inside = {d.device_id for d in fleet.devices if d.region == region}
    assert moved_ids and moved_ids <= inside
    before = whole["timestamp"] < T0 + timedelta(hours=2)
    pd.testing.assert_frame_equal(whole[before], plain[before], check_exact=True)
