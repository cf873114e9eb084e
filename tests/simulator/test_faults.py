"""Each fault's signature, measured against the same device without the fault.

The faulty fleet and the healthy_raw one share seed, weather and every other device, so any
difference on a faulty device comes from its fault's cause alone.
"""

import pandas as pd
import pytest

from fleetmon.sensors import SENSOR_NAMES
from fleetmon.simulator.faults import GRADUAL_FAULTS, FaultType
from tests.simulator.helpers import HOUR, MINUTE, device_rows, runs

F = FaultType
LOW_SIDE = "pressure_low_side"
EVAP = "temperature_evaporator"
CURRENT = "current_compressor"


def pair(faulty, healthy_raw, fault):
    """Return the fault's device rows with the fault and without it, indexed by time."""
    return device_rows(faulty.frame, fault.device_id), device_rows(healthy_raw, fault.device_id)


def window(rows: pd.DataFrame, start, end) -> pd.DataFrame:
    return rows[(rows.index >= start) & (rows.index < end)]


def running(rows: pd.DataFrame) -> pd.DataFrame:
    """Return the rows with the compressor refrigerating (not defrosting)."""
    return rows[rows["compressor_on"].astype(bool) & (rows["defrost_cycle"] == 0.0)]


def duty(rows: pd.DataFrame) -> float:
    return float(rows["compressor_on"].astype(float).mean())


def failure_from_box_air(rows: pd.DataFrame, limit: float, onset) -> pd.Timestamp | None:
    """Recompute a failure point from ground truth: 30 continuous minutes above the limit."""
    above = (rows["box_air"] > limit) & (rows.index >= onset)
    for start, length in runs(above.to_numpy()):
        if length > 30:
            return rows.index[start] + 30 * MINUTE
    return None


@pytest.mark.parametrize("fault_type", list(FaultType))
def test_a_fault_changes_nothing_before_its_onset(faulty, healthy_raw, faults, fault_type):
    fault = faults[fault_type]
    with_fault, without = pair(faulty, healthy_raw, fault)
    before = with_fault.index < fault.start
    pd.testing.assert_frame_equal(with_fault[before], without[before], check_exact=True)
    after = slice(fault.start, fault.start + 6 * HOUR)
    assert not with_fault.loc[after].equals(without.loc[after])


def test_a_fault_changes_nothing_on_other_devices(faulty, healthy_raw, faults):
    touched = {f.device_id for f in faults.values()}
    others = ~faulty.frame["device_id"].isin(touched)
    pd.testing.assert_frame_equal(
        faulty.frame[others].reset_index(drop=True),
        healthy_raw[~healthy_raw["device_id"].isin(touched)].reset_index(drop=True)[
            faulty.frame.columns
        ],
        check_exact=True,
    )


def test_refrigerant_leak_starves_the_coil_then_warms_the_box(fleet, faulty, healthy_raw, faults):
    fault = faults[F.REFRIGERANT_LEAK]
    failure = faulty.generator.failure_points()[fault]
    assert failure is not None and 12 * HOUR < failure - fault.start < 40 * HOUR
    sick, twin = (
        window(r, failure - 8 * HOUR, failure - 2 * HOUR) for r in pair(faulty, healthy_raw, fault)
    )
    assert running(sick)[LOW_SIDE].median() < 0.85 * running(twin)[LOW_SIDE].median()
    assert running(sick)["superheat"].median() > running(twin)["superheat"].median() + 3.0
    assert sick["subcooling"].median() < twin["subcooling"].median() - 2.0
    assert (
        running(sick)["temperature_discharge"].median()
        > running(twin)["temperature_discharge"].median()
    )
    assert duty(sick) > duty(twin) + 0.15
    early, early_twin = (
        window(r, fault.start + 6 * HOUR, fault.start + 12 * HOUR)
        for r in pair(faulty, healthy_raw, fault)
    )
    assert (
        running(early)["temperature_suction"].median()
        < running(early_twin)["temperature_suction"].median()
    )


def test_condenser_fouling_raises_approach_head_pressure_discharge_and_current(
    faulty, healthy_raw, faults
):
    fault = faults[F.CONDENSER_FOULING]
    failure = faulty.generator.failure_points()[fault]
    assert failure is not None
    sick, twin = (
        window(r, fault.start + 18 * HOUR, fault.start + 24 * HOUR)
        for r in pair(faulty, healthy_raw, fault)
    )
    approach = running(sick)["temperature_condenser"] - running(sick)["temperature_ambient"]
    twin_approach = running(twin)["temperature_condenser"] - running(twin)["temperature_ambient"]
    assert approach.median() >= 20.0 > twin_approach.median()
    for column in ("pressure_high_side", "temperature_discharge", CURRENT):
        assert running(sick)[column].median() > running(twin)[column].median(), column
    assert duty(sick) > duty(twin)


def test_evaporator_icing_chills_the_coil_and_each_defrost_clears_only_part(
    fleet, faulty, healthy_raw, faults
):
    fault = faults[F.EVAPORATOR_ICING]
    with_fault, without = pair(faulty, healthy_raw, fault)
    sick, twin = (
        window(r, fault.start + 30 * HOUR, fault.start + 42 * HOUR) for r in (with_fault, without)
    )
    assert running(sick)[EVAP].median() < running(twin)[EVAP].median() - 5.0
    assert running(sick)[LOW_SIDE].median() < 0.8 * running(twin)[LOW_SIDE].median()
    assert duty(sick) > duty(twin) + 0.2
    assert sick["box_air"].max() > twin["box_air"].max()
    assert sick["defrost_cycle"].sum() > twin["defrost_cycle"].sum()  # defrosts run long
    after_defrosts = []
    flags = with_fault["defrost_cycle"].fillna(0.0).to_numpy() == 1.0
    for start, length in runs(flags):
        moment = with_fault.index[start]
        if moment >= fault.start:
            later = window(
                with_fault, moment + (length + 30) * MINUTE, moment + (length + 150) * MINUTE
            )
            after_defrosts.append(running(later)[EVAP].median())
    assert len(after_defrosts) >= 4
    assert after_defrosts[-1] < after_defrosts[0] - 4.0


def test_bearing_wear_raises_vibration_with_spikes_then_seizes(faulty, healthy_raw, faults):
    fault = faults[F.BEARING_WEAR]
    with_fault, without = pair(faulty, healthy_raw, fault)
    seizure = fault.start + 30 * HOUR
    assert faulty.generator.failure_points()[fault] == seizure
    first = running(window(with_fault, fault.start, fault.start + 6 * HOUR))
    last = running(window(with_fault, seizure - 6 * HOUR, seizure))
    assert last["vibration_compressor"].median() > 2.5 * first["vibration_compressor"].median()
    level = last["vibration_compressor"]
    assert (level > 1.5 * level.rolling(15, center=True, min_periods=5).median()).sum() >= 3
    twin_last = running(window(without, seizure - 6 * HOUR, seizure))
    assert last[CURRENT].median() > 1.03 * twin_last[CURRENT].median()
    seized = window(with_fault, seizure + MINUTE, seizure + 2 * HOUR)
    assert (seized[CURRENT].dropna() < 0.5).all()
    assert seized["box_air"].iloc[-1] > seized["box_air"].iloc[0] + 2.0


def test_door_gasket_lets_in_warm_moist_air(faulty, healthy_raw, faults):
    fault = faults[F.DOOR_GASKET]
    sick, twin = (
        window(r, fault.start + 3 * HOUR, fault.start + 7 * HOUR)
        for r in pair(faulty, healthy_raw, fault)
    )
    assert sick["humidity"].mean() > twin["humidity"].mean() + 3.0
    assert duty(sick) > duty(twin) + 0.1
    assert sick["box_air"].mean() > twin["box_air"].mean()
    assert faulty.generator.failure_points()[fault] is not None


def test_compressor_overload_draws_high_current_for_minutes_then_trips(faulty, healthy_raw, faults):
    fault = faults[F.COMPRESSOR_OVERLOAD]
    with_fault, without = pair(faulty, healthy_raw, fault)
    normal = running(without)[CURRENT].median()
    episode = window(with_fault, fault.start, fault.end)
    high = episode[CURRENT] > 1.4 * normal
    assert high.sum() >= 3
    trip = faulty.generator.failure_points()[fault]
    assert trip is not None and trip - fault.start < 30 * MINUTE
    assert high[high].index.max() <= trip
    after_trip = window(with_fault, trip + MINUTE, fault.end)
    assert (after_trip[CURRENT].dropna() < 0.5).all()
    assert (
        after_trip["box_air"].iloc[-1] > window(without, trip, fault.end)["box_air"].iloc[-1] + 1.0
    )
    repaired = window(with_fault, fault.end + 10 * MINUTE, fault.end + 2 * HOUR)
    assert repaired["compressor_on"].astype(bool).any()


def test_low_side_loss_keeps_the_low_side_low_while_running(faulty, healthy_raw, faults):
    fault = faults[F.LOW_SIDE_LOSS]
    with_fault, without = pair(faulty, healthy_raw, fault)
    sick = running(window(with_fault, fault.start + 5 * MINUTE, fault.end))
    normal = running(without)[LOW_SIDE].median()
    assert len(sick) > 60
    assert sick[LOW_SIDE].median() < 0.6 * normal
    assert (sick[LOW_SIDE].dropna() < 0.7 * normal).mean() > 0.9
    assert sick["superheat"].median() > running(without)["superheat"].median() + 5.0
    assert sick[CURRENT].median() < running(without)[CURRENT].median()
    last = window(with_fault, fault.end - 10 * MINUTE, fault.end)
    assert (
        last["box_air"].mean()
        > window(without, fault.end - 10 * MINUTE, fault.end)["box_air"].mean()
    )


def test_cooling_loss_warms_the_coil_exponentially_towards_the_box(
    faulty, healthy_raw, faults, fleet
):
    fault = faults[F.COOLING_LOSS]
    with_fault, _ = pair(faulty, healthy_raw, fault)
    dead = window(with_fault, fault.start + MINUTE, fault.end)
    assert (dead[CURRENT].dropna() < 0.5).all()
    # The coil starts warming when the compressor last ran.
    ran = with_fault[(with_fault.index <= fault.start) & with_fault["compressor_on"].astype(bool)]
    coil = with_fault[EVAP].loc[ran.index.max() :].iloc[:25].interpolate()
    steps = coil.diff().dropna().to_numpy()
    assert (steps[:5] > 0).all()
    assert steps[:3].mean() > 2.5 * steps[12:18].mean()
    assert coil.iloc[10] - coil.iloc[0] > 4.0
    # Box air follows in tens of minutes, and the box fails while the compressor is dead.
    failure = faulty.generator.failure_points()[fault]
    limit = fleet.device(fault.device_id).safe_limit_c
    assert failure == failure_from_box_air(with_fault, limit, fault.start)
    assert fault.start + 30 * MINUTE < failure < fault.end


def test_door_left_open_warms_the_box_and_keeps_the_compressor_running(faulty, healthy_raw, faults):
    fault = faults[F.DOOR_LEFT_OPEN]
    sick, twin = (window(r, fault.start, fault.end) for r in pair(faulty, healthy_raw, fault))
    assert (sick["door_open_close"].dropna() == 1.0).all()
    assert sick["box_air"].max() > twin["box_air"].max() + 1.0
    assert sick["humidity"].mean() > twin["humidity"].mean() + 1.0
    assert window(sick, fault.start + 10 * MINUTE, fault.end)["compressor_on"].mean() > 0.9


def test_defrost_stuck_heats_far_past_its_usual_length(faulty, healthy_raw, faults):
    fault = faults[F.DEFROST_STUCK]
    with_fault, without = pair(faulty, healthy_raw, fault)
    sick = window(with_fault, fault.start + MINUTE, fault.end)
    assert (sick["defrost_cycle"].dropna() == 1.0).all()
    usual = max(n for _, n in runs(without["defrost_cycle"].fillna(0.0) == 1.0))
    assert len(sick) > 3 * usual
    assert sick[EVAP].max() > 15.0
    assert sick["box_air"].iloc[-1] > window(without, fault.start, fault.end)["box_air"].max() + 0.5


def test_missed_defrosts_leave_frost_to_build(faulty, healthy_raw, faults):
    fault = faults[F.MISSED_DEFROST]
    # The defrost running when the timer died finishes; no other one starts.
    sick, twin = (
        window(r, fault.start + HOUR, fault.end) for r in pair(faulty, healthy_raw, fault)
    )
    assert sick["defrost_cycle"].max() == 0.0
    assert len(runs(twin["defrost_cycle"].fillna(0.0) == 1.0)) >= 3
    late, late_twin = (
        window(r, fault.end - 6 * HOUR, fault.end) for r in pair(faulty, healthy_raw, fault)
    )
    assert running(late)[EVAP].median() < running(late_twin)[EVAP].median() - 1.0
    assert running(late)[LOW_SIDE].median() < running(late_twin)[LOW_SIDE].median()


def test_stuck_sensor_holds_one_value_while_the_others_move(faulty, faults):
    fault = faults[F.SENSOR_STUCK]
    rows = device_rows(faulty.frame, fault.device_id)
    sensor = fault.params["sensor"]
    stuck = window(rows, fault.start, fault.end)
    assert stuck[sensor].dropna().nunique() == 1
    assert stuck["pressure_low_side"].std() > 10.0
    assert window(rows, fault.end, fault.end + 3 * HOUR)[sensor].std() > 0.5
    assert window(rows, fault.start - 3 * HOUR, fault.start)[sensor].std() > 0.5


def test_full_dropout_sends_nothing(faulty, faults):
    fault = faults[F.FULL_DROPOUT]
    rows = device_rows(faulty.frame, fault.device_id)
    silent = window(rows, fault.start, fault.end)
    assert len(silent) == 180 and not silent["sent"].any()
    assert silent["powered"].all()
    assert rows.loc[fault.end, "sent"] and rows.loc[fault.start - MINUTE, "sent"]


def test_intermittent_dropout_sends_about_30_percent_empty_messages(faulty, faults):
    fault = faults[F.INTERMITTENT_DROPOUT]
    rows = device_rows(faulty.frame, fault.device_id)
    sent = rows[rows["sent"]]
    empty = sent[list(SENSOR_NAMES)].isna().all(axis=1)
    assert empty[sent.index >= fault.start].mean() == pytest.approx(0.3, abs=0.04)
    assert not empty[sent.index < fault.start].any()


def test_failure_points_are_where_the_box_left_its_band_or_the_equipment_tripped(
    fleet, faulty, faults
):
    failures = faulty.generator.failure_points()
    assert set(failures) == set(faults.values())
    for fault_type, fault in faults.items():
        failure = failures[fault]
        rows = device_rows(faulty.frame, fault.device_id)
        limit = fleet.device(fault.device_id).safe_limit_c
        from_box = failure_from_box_air(rows, limit, fault.start)
        if fault_type in (F.COMPRESSOR_OVERLOAD, F.BEARING_WEAR):
            assert failure is not None and (from_box is None or failure <= from_box)
        else:
            assert failure == from_box, fault_type
    for fault_type in (F.SENSOR_STUCK, F.FULL_DROPOUT, F.INTERMITTENT_DROPOUT):
        assert failures[faults[fault_type]] is None
    reached = {t for t in GRADUAL_FAULTS if failures[faults[t]] is not None}
    assert len(reached) >= 3
