"""Harmless events: planning, and what each one does to the readings (and does not)."""

import json

import numpy as np
import pandas as pd
import pytest

from fleetmon.simulator.events import EventType, plan_events, routine_events
from fleetmon.simulator.fleet import epoch_minute, make_fleet
from fleetmon.simulator.generator import FleetGenerator
from tests.simulator.helpers import DAY, HOUR, MINUTE, SEED, T0, device_rows, runs

E = EventType
CURRENT = "current_compressor"


def window(rows, start, end):
    return rows[(rows.index >= start) & (rows.index < end)]


def pair(eventful, healthy_raw, device_id):
    return device_rows(eventful, device_id), device_rows(healthy_raw, device_id)


# --- planning ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planned():
    layout = make_fleet(200, seed=12)
    start, end = T0, T0 + 14 * DAY
    return layout, plan_events(
        layout, seed=12, start=start, end=end, rare_start=T0 + 7 * DAY, hot_afternoons=3
    )


def test_plan_events_is_deterministic_and_json_ready(planned):
    layout, events = planned
    again = plan_events(
        layout, seed=12, start=T0, end=T0 + 14 * DAY, rare_start=T0 + 7 * DAY, hot_afternoons=3
    )
    assert events == again
    json.dumps([e.as_dict() for e in events])
    assert all(T0 <= e.start < e.end for e in events)
    assert [e.start for e in events] == sorted(e.start for e in events)


def test_routine_events_come_at_everyday_rates(planned):
    layout, events = planned
    walk_ins = [d for d in layout.devices if d.profile.kind == "walk_in"]
    weeks = 2.0
    count = {t: sum(e.event_type is t for e in events) for t in EventType}
    assert count[E.RESTOCKING] / (len(walk_ins) * 7 * weeks) == pytest.approx(0.85, abs=0.1)
    assert count[E.DELIVERY_BURST] / (len(walk_ins) * weeks) == pytest.approx(3.0, abs=0.6)
    assert count[E.SENSOR_GLITCH] / (len(layout.devices) * weeks) == pytest.approx(3.0, abs=0.5)
    for event in events:
        device = layout.device(event.device_ids[0])
        local_hour = ((epoch_minute(event.start) // 60) + device.utc_offset_h) % 24
        if event.event_type is E.RESTOCKING:
            assert device.profile.kind == "walk_in"
            assert 8 * MINUTE <= event.end - event.start <= 12 * MINUTE
            assert 7 <= local_hour <= 20
        elif event.event_type is E.DELIVERY_BURST:
            assert 4 <= local_hour <= 7 and len(event.params["openings_s"]) >= 3
        elif event.event_type is E.SENSOR_GLITCH:
            assert event.end - event.start == MINUTE and device.has(event.params["sensor"])


def test_rare_events_land_in_their_window_at_distinct_sites(planned):
    layout, events = planned
    rare = [e for e in events if e.event_type in (E.HOT_AFTERNOON, E.SITE_POWER_LOSS)]
    assert sum(e.event_type is E.HOT_AFTERNOON for e in rare) == 3
    assert sum(e.event_type is E.SITE_POWER_LOSS for e in rare) == 2
    assert all(e.start >= T0 + 7 * DAY for e in rare)
    assert len({e.site_id for e in rare}) == len(rare)
    for event in rare:
        assert set(event.device_ids) == {d.device_id for d in layout.devices_at(event.site_id)}
        hours = (event.end - event.start) / HOUR
        if event.event_type is E.HOT_AFTERNOON:
            assert hours == 6 and event.params["ambient_k"] == 8.0
        else:
            assert 35 <= hours * 60 <= 45


def test_routine_events_do_not_depend_on_the_window_they_are_planned_in(planned):
    layout, _ = planned
    lo, hi = epoch_minute(T0 + 2 * DAY), epoch_minute(T0 + 3 * DAY)
    inside = routine_events(layout, seed=12, start_min=lo, end_min=hi)
    wider = routine_events(layout, seed=12, start_min=lo - 1440, end_min=hi + 1440)
    assert inside == [e for e in wider if lo <= epoch_minute(e.start) < hi]


def test_a_generator_without_an_event_list_lives_through_its_routine_events(fleet):
    end = T0 + DAY
    # From before the spin-up that precedes the origin, so both lives are the same.
    routine = plan_events(
        fleet, seed=SEED, start=T0 - DAY, end=end, hot_afternoons=0, power_losses=0
    )
    implicit = FleetGenerator(fleet, [], seed=SEED).frame(T0, end)
    explicit = FleetGenerator(fleet, [], seed=SEED, events=routine).frame(T0, end)
    pd.testing.assert_frame_equal(implicit, explicit, check_exact=True)
    none = FleetGenerator(fleet, [], seed=SEED, events=()).frame(T0, end)
    assert not none.equals(implicit)


# --- what each event does ------------------------------------------------------------------


def test_restocking_holds_a_walk_in_door_open_and_warms_the_box_for_a_while(
    eventful, healthy_raw, events
):
    event = events[E.RESTOCKING]
    rows, twin = pair(eventful, healthy_raw, event.device_ids[0])
    during = window(rows, event.start + MINUTE, event.end)
    assert (during["door_open_close"].dropna() == 1.0).all()
    assert len(during) >= 8
    after, twin_after = (window(r, event.start, event.end + 20 * MINUTE) for r in (rows, twin))
    assert after["box_air"].max() > twin_after["box_air"].max() + 1.0
    assert after["compressor_on"].mean() > twin_after["compressor_on"].mean()
    assert after["humidity"].max() > twin_after["humidity"].max() + 3.0
    later = window(rows, event.end + 3 * HOUR, event.end + 4 * HOUR)
    assert later["box_air"].mean() == pytest.approx(
        window(twin, event.end + 3 * HOUR, event.end + 4 * HOUR)["box_air"].mean(), abs=0.5
    )


def test_a_delivery_burst_opens_the_door_several_times_in_quick_succession(
    eventful, healthy_raw, events
):
    event = events[E.DELIVERY_BURST]
    rows, twin = pair(eventful, healthy_raw, event.device_ids[0])
    span = window(rows, event.start, event.end + MINUTE)
    openings = runs(span["door_open_close"].fillna(0.0) == 1.0)
    assert len(openings) >= 3
    assert (
        span["door_open_close"].mean()
        > 3 * window(twin, event.start, event.end)["door_open_close"].mean()
    )
    assert span["box_air"].max() > window(twin, event.start, event.end)["box_air"].max()


def test_a_sensor_glitch_is_one_wild_reading_the_next_one_contradicts(
    eventful, healthy_raw, events
):
    event = events[E.SENSOR_GLITCH]
    rows, twin = pair(eventful, healthy_raw, event.device_ids[0])
    sensor = event.params["sensor"]
    assert rows.loc[event.start, sensor] == event.params["value"]
    assert rows.loc[event.start + MINUTE, sensor] < 0.5 * event.params["value"]
    different = (rows.drop(columns=[sensor]) != twin.drop(columns=[sensor])) & rows.drop(
        columns=[sensor]
    ).notna()
    assert not different.any().any()
    other_minutes = rows.index != event.start
    assert rows.loc[other_minutes, sensor].equals(twin.loc[other_minutes, sensor])


def test_a_hot_afternoon_heats_one_site_and_its_condensers(fleet, eventful, healthy_raw, events):
    event = events[E.HOT_AFTERNOON]
    middle = (event.start + 2 * HOUR, event.end - 2 * HOUR)
    lifts, condensers, duties = [], [], []
    for device_id in event.device_ids:
        rows, twin = (window(r, *middle) for r in pair(eventful, healthy_raw, device_id))
        lift = rows["temperature_ambient"].mean() - twin["temperature_ambient"].mean()
        if fleet.device(device_id).profile.kind == "walk_in":
            lifts.append(lift)
            condensers.append(
                rows["temperature_condenser"].mean() - twin["temperature_condenser"].mean()
            )
            duties.append(rows["compressor_on"].mean() - twin["compressor_on"].mean())
        else:
            assert 0.2 < lift < 2.0
    assert lifts and np.median(lifts) == pytest.approx(8.0, abs=1.0)
    assert np.median(condensers) > 4.0
    assert np.median(duties) > 0.0
    elsewhere = eventful[~eventful["device_id"].isin(event.device_ids)]
    untouched = healthy_raw[~healthy_raw["device_id"].isin(event.device_ids)]
    assert elsewhere["temperature_ambient"].equals(untouched["temperature_ambient"])


def test_a_site_power_loss_silences_the_site_then_every_unit_restarts_together(
    fleet, eventful, healthy_raw, events
):
    event = events[E.SITE_POWER_LOSS]
    restarted = []
    for device_id in event.device_ids:
        rows, twin = pair(eventful, healthy_raw, device_id)
        dark = window(rows, event.start, event.end)
        assert not dark["sent"].any() and not dark["powered"].any()
        assert not dark["compressor_on"].iloc[1:].any()
        assert dark["box_air"].iloc[-1] > dark["box_air"].iloc[0]
        back = window(rows, event.end, event.end + HOUR)
        assert back["sent"].all()
        first_on = back.index[back["compressor_on"].astype(bool)][0]
        restarted.append(first_on)
        # A long pull-down: the first run after the restart outlasts the usual run.
        run = runs(back["compressor_on"].astype(bool).to_numpy())[0][1]
        usual = [n for _, n in runs(twin["compressor_on"].astype(bool).to_numpy())]
        assert run > np.median(usual), device_id
        # Warm coils and equalised pressures when the power comes back.
        twin_running = twin[twin["compressor_on"].astype(bool)]
        coil = twin_running["temperature_evaporator"].median()
        assert back["temperature_evaporator"].iloc[0] > coil + 3.0
        assert back["pressure_low_side"].iloc[0] > 1.15 * twin_running["pressure_low_side"].median()
    assert max(restarted) - min(restarted) <= 2 * MINUTE


def test_harmless_events_never_put_a_product_at_risk(fleet, eventful, events):
    for event in events.values():
        for device_id in event.device_ids:
            rows = device_rows(eventful, device_id)
            above = rows["box_air"] > fleet.device(device_id).safe_limit_c
            assert max((n for _, n in runs(above.to_numpy())), default=0) < 30, (
                event.event_type,
                device_id,
            )
