"""Builders for the simulator tests: hand-made faults and events, and small helpers.

Every fault and event sits on its own device, so the healthy frame is each one's twin:
the same device, seed and weather, without the cause.
"""

from datetime import UTC, datetime, timedelta

import pandas as pd

from fleetmon.simulator.events import EventSpec, EventType
from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.fleet import DeviceSpec, FleetLayout
from fleetmon.simulator.generator import FleetGenerator

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SEED = 4
DEVICES = 48
DAYS = 3
ONSET = T0 + DAY + 6 * HOUR


def healthy_generator(fleet: FleetLayout) -> FleetGenerator:
    """The fleet without faults or events, without random nulls."""
    return FleetGenerator(fleet, [], seed=SEED, events=(), null_rate=0.0)


class Cast:
    """Hands out each device once, by equipment model, so faults and events never meet."""

    def __init__(self, fleet: FleetLayout) -> None:
        self.fleet = fleet
        self.used: set[str] = set()

    def take(self, model: str, *, sensor: str | None = None) -> DeviceSpec:
        for device in self.fleet.devices:
            if device.device_id in self.used or device.equipment_model != model:
                continue
            if sensor and not device.has(sensor):
                continue
            self.used.add(device.device_id)
            return device
        raise LookupError(f"no free {model} device")


def clear_of_defrost(device: DeviceSpec, when: datetime, margin_min: int = 90) -> datetime:
    """Return the first minute from `when` at least `margin_min` after and before a defrost."""
    minute = int(when.timestamp() // 60)
    starts = device.defrost_starts(minute - 600, minute + 2000)
    while any(-margin_min <= minute - s <= margin_min + 45 for s in starts):
        minute += 5
    return datetime.fromtimestamp(minute * 60, UTC)


def next_defrost(device: DeviceSpec, when: datetime) -> datetime:
    """Return the first scheduled defrost at or after `when`."""
    minute = int(when.timestamp() // 60)
    return datetime.fromtimestamp(device.defrost_starts(minute, minute + 1000)[0] * 60, UTC)


def build_faults(fleet: FleetLayout) -> dict[FaultType, FaultSpec]:
    """One hand-made fault of every type, each on its own device, with fast development."""
    cast = Cast(fleet)
    end = T0 + DAYS * DAY
    faults: dict[FaultType, FaultSpec] = {}

    def add(fault_type, device, start, stop, **params):
        faults[fault_type] = FaultSpec(device.device_id, fault_type, start, stop, params)

    wf = cast.take("WF-5HP")
    add(FaultType.REFRIGERANT_LEAK, wf, ONSET, end, charge_loss_per_h=0.03)
    wc = cast.take("WC-3HP")
    add(FaultType.CONDENSER_FOULING, wc, ONSET, end, approach_growth_per_h=0.12)
    wf = cast.take("WF-5HP")
    add(
        FaultType.EVAPORATOR_ICING,
        wf,
        ONSET,
        end,
        ice_kg_per_h=round(3.0 * wf.physics.frost_ref_kg / 14.0, 3),
        melt_share=0.3,
    )
    dc = cast.take("DC-2HP", sensor="vibration_compressor")
    add(FaultType.BEARING_WEAR, dc, ONSET, end, hours_to_seizure=30.0)
    df = cast.take("DF-3HP", sensor="humidity")
    add(FaultType.DOOR_GASKET, df, ONSET, end, leak_per_h=0.03, leak_max=0.35)
    wc = cast.take("WC-3HP")
    start = clear_of_defrost(wc, ONSET + 6 * HOUR)
    add(
        FaultType.COMPRESSOR_OVERLOAD,
        wc,
        start,
        start + 3 * HOUR,
        current_factor=1.8,
        trip_after_s=300,
    )
    wf = cast.take("WF-5HP")
    start = clear_of_defrost(wf, ONSET + 2 * HOUR)
    add(FaultType.LOW_SIDE_LOSS, wf, start, start + 2 * HOUR, feed=0.08, ramp_s=120)
    df = cast.take("DF-3HP")
    start = clear_of_defrost(df, ONSET + 3 * HOUR)
    add(FaultType.COOLING_LOSS, df, start, start + 4 * HOUR)
    wc = cast.take("WC-3HP", sensor="humidity")
    start = clear_of_defrost(wc, ONSET + 4 * HOUR)
    add(FaultType.DOOR_LEFT_OPEN, wc, start, start + HOUR)
    wf = cast.take("WF-5HP")
    start = next_defrost(wf, ONSET)
    add(FaultType.DEFROST_STUCK, wf, start, start + 150 * MINUTE)
    df = cast.take("DF-3HP")
    start = next_defrost(df, ONSET) + MINUTE
    add(
        FaultType.MISSED_DEFROST,
        df,
        start,
        start + 4 * df.defrost_interval_min * MINUTE,
        interval_min=df.defrost_interval_min,
    )
    dc = cast.take("DC-2HP")
    add(
        FaultType.SENSOR_STUCK,
        dc,
        ONSET,
        ONSET + 12 * HOUR,
        sensor="temperature_evaporator",
    )
    df = cast.take("DF-3HP")
    add(FaultType.FULL_DROPOUT, df, ONSET, ONSET + 3 * HOUR)
    dc = cast.take("DC-2HP")
    add(FaultType.INTERMITTENT_DROPOUT, dc, ONSET, end, null_row_fraction=0.3)
    return faults


def build_events(
    fleet: FleetLayout, faults: dict[FaultType, FaultSpec]
) -> dict[EventType, EventSpec]:
    """One harmless event of every type, on devices and sites no fault touches."""
    busy = {f.device_id for f in faults.values()}
    quiet_sites = [
        s for s in fleet.sites if not any(d.device_id in busy for d in fleet.devices_at(s.site_id))
    ]
    cast = Cast(fleet)
    cast.used |= busy
    events: dict[EventType, EventSpec] = {}
    wf = cast.take("WF-5HP", sensor="humidity")
    start = clear_of_defrost(wf, T0 + DAY + 15 * HOUR)
    events[EventType.RESTOCKING] = EventSpec(
        EventType.RESTOCKING,
        start,
        start + 11 * MINUTE,
        wf.site_id,
        (wf.device_id,),
        {"openings_s": [[0, 660]], "product_share": 0.02, "product_c": -10.0},
    )
    wc = cast.take("WC-3HP")
    start = clear_of_defrost(wc, T0 + DAY + 11 * HOUR)
    events[EventType.DELIVERY_BURST] = EventSpec(
        EventType.DELIVERY_BURST,
        start,
        start + 20 * MINUTE,
        wc.site_id,
        (wc.device_id,),
        {
            "openings_s": [[0, 150], [330, 180], [660, 120], [960, 200]],
            "product_share": 0.02,
            "product_c": 7.0,
        },
    )
    dc = cast.take("DC-2HP")
    events[EventType.SENSOR_GLITCH] = EventSpec(
        EventType.SENSOR_GLITCH,
        T0 + DAY + 9 * HOUR,
        T0 + DAY + 9 * HOUR + MINUTE,
        dc.site_id,
        (dc.device_id,),
        {"sensor": "current_compressor", "value": 47.5},
    )
    hot_site, dark_site = quiet_sites[0], quiet_sites[-1]
    start = T0 + DAY + 19 * HOUR  # 13:00 at UTC-6 / 14:00 at UTC-5
    events[EventType.HOT_AFTERNOON] = EventSpec(
        EventType.HOT_AFTERNOON,
        start,
        start + 6 * HOUR,
        hot_site.site_id,
        tuple(d.device_id for d in fleet.devices_at(hot_site.site_id)),
        {"ambient_k": 8.0},
    )
    start = T0 + DAY + 14 * HOUR
    events[EventType.SITE_POWER_LOSS] = EventSpec(
        EventType.SITE_POWER_LOSS,
        start,
        start + 40 * MINUTE,
        dark_site.site_id,
        tuple(d.device_id for d in fleet.devices_at(dark_site.site_id)),
        {},
    )
    return events


def device_rows(frame: pd.DataFrame, device_id: str) -> pd.DataFrame:
    """Return one device's rows indexed by timestamp."""
    return frame[frame["device_id"] == device_id].set_index("timestamp")


def runs(flags) -> list[tuple[int, int]]:
    """Return (start index, length) of each run of True."""
    import numpy as np

    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
