"""Harmless events with ground truth: what happens to healthy equipment every day.

- restocking: a walk-in's door stands open 8–12 min while product is carried in, most days;
- delivery_burst: several openings of a walk-in in quick succession, early morning, a few
  mornings a week;
- sensor_glitch: one sensor sends one wild reading that the next one contradicts, a few
  per device-week;
- hot_afternoon: one site's outdoor temperature runs 8 K above normal for 6 h (rare);
- site_power_loss: a whole site, gateway included, loses power for ~40 min; the physics
  carries on without cooling and every unit restarts together (rare).

Routine events (the first three) come from a per-day counter-based draw, so any window's
routine events are the same whichever window they are planned in. Rare events are placed
on request inside a given window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from fleetmon.simulator.ambient import OutdoorOffset
from fleetmon.simulator.doors import ForcedOpening
from fleetmon.simulator.drivers import BlockDrivers
from fleetmon.simulator.fleet import (
    DeviceSpec,
    FleetLayout,
    epoch_minute,
    minute_datetime,
)
from fleetmon.simulator.randomness import MASK64, mix64

DAY_MIN = 1440
HOT_AFTERNOON_K = 8.0
HOT_AFTERNOON_H = 6.0
_HOT_RAMP_S = 2700.0  # the extra heat builds up and fades over 45 min
_RESTOCK_PER_DAY = 0.85
_DELIVERY_MORNINGS_PER_WEEK = 3.0
_GLITCHES_PER_DEVICE_WEEK = 3.0
# Wild values a glitching sensor sends, as ranges to draw from.
GLITCH_VALUES: dict[str, tuple[float, float]] = {
    "current_compressor": (35.0, 49.5),
    "vibration_compressor": (20.0, 60.0),
    "pressure_low_side": (55.0, 80.0),
    "temperature_evaporator": (15.0, 28.0),
    "temperature_discharge": (125.0, 148.0),
    "pressure_high_side": (3000.0, 3450.0),
    "humidity": (0.0, 3.0),
}


class EventType(StrEnum):
    RESTOCKING = "restocking"
    DELIVERY_BURST = "delivery_burst"
    HOT_AFTERNOON = "hot_afternoon"
    SENSOR_GLITCH = "sensor_glitch"
    SITE_POWER_LOSS = "site_power_loss"


ROUTINE_EVENTS: frozenset[EventType] = frozenset(
    {EventType.RESTOCKING, EventType.DELIVERY_BURST, EventType.SENSOR_GLITCH}
)


@dataclass(frozen=True)
class EventSpec:
    """Ground truth: a harmless `event_type` at `site_id` on `device_ids` over [start, end)."""

    event_type: EventType
    start: datetime
    end: datetime
    site_id: str
    device_ids: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_type", EventType(self.event_type))
        object.__setattr__(self, "device_ids", tuple(self.device_ids))
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("event start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("event end must be after its start")

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the event."""
        return {
            "event_type": str(self.event_type),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "site_id": self.site_id,
            "device_ids": list(self.device_ids),
            "params": dict(self.params),
        }


# ---------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------


def plan_events(
    fleet: FleetLayout,
    *,
    seed: int,
    start: datetime,
    end: datetime,
    rare_start: datetime | None = None,
    rare_end: datetime | None = None,
    hot_afternoons: int = 2,
    power_losses: int = 2,
) -> list[EventSpec]:
    """Plan the harmless events of [start, end), sorted by start.

    Routine events (restocking, deliveries, glitches) come at their everyday rates over
    the whole window. `hot_afternoons` and `power_losses` rare events are placed inside
    [rare_start, rare_end) (default: the whole window), each at a different site.
    """
    lo, hi = epoch_minute(start), epoch_minute(end)
    if hi <= lo:
        raise ValueError("end must be after start")
    events = routine_events(fleet, seed=seed, start_min=lo, end_min=hi)
    rare_lo = epoch_minute(rare_start) if rare_start else lo
    rare_hi = epoch_minute(rare_end) if rare_end else hi
    if rare_hi > rare_lo and fleet.sites:
        events += _rare_events(
            fleet, seed, max(lo, rare_lo), min(hi, rare_hi), hot_afternoons, power_losses
        )
    return sorted(events, key=lambda e: (e.start, e.event_type, e.site_id, e.device_ids))


def routine_events(
    fleet: FleetLayout, *, seed: int, start_min: int, end_min: int
) -> list[EventSpec]:
    """Return the routine events that start in [start_min, end_min)."""
    events: list[EventSpec] = []
    first_day = start_min // DAY_MIN - 1
    last_day = (end_min - 1) // DAY_MIN + 1
    for device in fleet.devices:
        for day in range(first_day, last_day + 1):
            for event in device_day_events(device, seed, day):
                minute = epoch_minute(event.start)
                if start_min <= minute < end_min:
                    events.append(event)
    return events


def _day_rng(seed: int, key: int, day: int, stream: int) -> np.random.Generator:
    """Return a generator for one device-day and purpose, independent of any window."""
    mixed = mix64(np.array([(key ^ (seed * 0x9E3779B1)) & MASK64], dtype=np.uint64))
    return np.random.default_rng([int(mixed[0]), day & MASK64, stream])


def _local_midnight(device: DeviceSpec, day: int) -> int:
    """Return the epoch minute of local midnight starting `day` (days since the epoch)."""
    return day * DAY_MIN - device.utc_offset_h * 60


def device_day_events(device: DeviceSpec, seed: int, day: int) -> list[EventSpec]:
    """Return one device's routine events of one local day."""
    events: list[EventSpec] = []
    midnight = _local_midnight(device, day)
    physics = device.physics
    if device.profile.kind == "walk_in":
        rng = _day_rng(seed, device.noise_key, day, 1)
        if rng.random() < _RESTOCK_PER_DAY:
            length = int(rng.integers(8, 13))
            hour = rng.uniform(physics.open_hour + 2.0, physics.close_hour - 1.0)
            begin = midnight + int(hour * 60)
            events.append(_door_event(device, EventType.RESTOCKING, begin, [(0, length * 60)], rng))
        rng = _day_rng(seed, device.noise_key, day, 2)
        if rng.random() < _DELIVERY_MORNINGS_PER_WEEK / 7.0:
            begin = midnight + int(rng.uniform(4.5, 7.5) * 60)
            openings, offset = [], 0
            for _ in range(int(rng.integers(3, 7))):
                length = int(rng.integers(60, 241))
                openings.append((offset, length))
                offset += length + int(rng.integers(45, 301))
            events.append(_door_event(device, EventType.DELIVERY_BURST, begin, openings, rng))
    rng = _day_rng(seed, device.noise_key, day, 3)
    for _ in range(int(rng.poisson(_GLITCHES_PER_DEVICE_WEEK / 7.0))):
        begin = midnight + int(rng.integers(0, DAY_MIN))
        sensors = [s for s in GLITCH_VALUES if device.has(s)]
        sensor = sensors[int(rng.integers(len(sensors)))]
        value = round(float(rng.uniform(*GLITCH_VALUES[sensor])), 1)
        events.append(
            EventSpec(
                EventType.SENSOR_GLITCH,
                minute_datetime(begin),
                minute_datetime(begin + 1),
                device.site_id,
                (device.device_id,),
                {"sensor": sensor, "value": value},
            )
        )
    return events


def _door_event(
    device: DeviceSpec,
    event_type: EventType,
    begin: int,
    openings: list[tuple[int, int]],
    rng: np.random.Generator,
) -> EventSpec:
    """Build a restocking or delivery event: door openings, and warmer product coming in."""
    physics = device.physics
    frozen = device.profile.product == "frozen"
    arriving = rng.uniform(-14.0, -9.0) if frozen else rng.uniform(5.0, 9.0)
    end_s = max(offset + length for offset, length in openings)
    return EventSpec(
        event_type,
        minute_datetime(begin),
        minute_datetime(begin + math.ceil(end_s / 60)),
        device.site_id,
        (device.device_id,),
        {
            "openings_s": [[offset, length] for offset, length in openings],
            "product_share": round(float(rng.uniform(0.01, 0.03)), 4),
            "product_c": round(float(arriving), 1),
            "set_c": round(physics.set_c, 2),
        },
    )


def _rare_events(
    fleet: FleetLayout, seed: int, lo: int, hi: int, hot_afternoons: int, power_losses: int
) -> list[EventSpec]:
    """Place rare events inside [lo, hi), each where it fits, at distinct sites if possible."""
    rng = np.random.default_rng([seed & MASK64, lo, 0x4A2E])
    sites = [fleet.sites[i] for i in rng.permutation(len(fleet.sites))]
    sites = [s for s in sites if fleet.devices_at(s.site_id)]
    events: list[EventSpec] = []
    heat = int(HOT_AFTERNOON_H * 60)
    for _ in range(hot_afternoons):
        for site in sites:
            # Heat that builds from late morning local time peaks mid-afternoon.
            starts = [
                m
                for m in range(lo - lo % 60, hi, 60)
                if ((m // 60 + site.utc_offset_h) % 24) in (11, 12, 13)
                and lo <= m
                and m + 60 + heat <= hi
            ]
            if starts:
                sites.remove(site)
                begin = starts[int(rng.integers(len(starts)))] + int(rng.integers(0, 60))
                events.append(
                    _site_event(fleet, EventType.HOT_AFTERNOON, site.site_id, begin, heat)
                )
                events[-1].params["ambient_k"] = HOT_AFTERNOON_K
                break
    every_site = [fleet.sites[i] for i in rng.permutation(len(fleet.sites))]
    for _ in range(power_losses):
        length = int(rng.integers(35, 46))
        if hi - lo <= length + 120 or not every_site:
            break
        # Distinct sites while there are enough of them.
        site = sites.pop(0) if sites else every_site[int(rng.integers(len(every_site)))]
        begin = lo + 60 + int(rng.integers(0, hi - lo - length - 120))
        events.append(_site_event(fleet, EventType.SITE_POWER_LOSS, site.site_id, begin, length))
    return events


def _site_event(
    fleet: FleetLayout, event_type: EventType, site_id: str, begin: int, minutes: int
) -> EventSpec:
    """Build an event that concerns every device of one site."""
    return EventSpec(
        event_type,
        minute_datetime(begin),
        minute_datetime(begin + minutes),
        site_id,
        tuple(d.device_id for d in fleet.devices_at(site_id)),
        {},
    )


# ---------------------------------------------------------------------------------------
# What each event changes
# ---------------------------------------------------------------------------------------


def apply_event(
    event: EventSpec, drivers: BlockDrivers, columns: Sequence[int], devices: Sequence[DeviceSpec]
) -> None:
    """Write the event into its devices' columns of a block's inputs."""
    t0, t1 = event.start.timestamp(), event.end.timestamp()
    match event.event_type:
        case EventType.RESTOCKING | EventType.DELIVERY_BURST:
            openings = event.params.get("openings_s", [[0, t1 - t0]])
            for column, device in zip(columns, devices, strict=True):
                for offset, length in openings:
                    drivers.forced_doors.append(
                        ForcedOpening(column, t0 + offset, t0 + offset + length)
                    )
                rows = drivers.window(t0, t1)
                if len(rows):
                    physics = device.physics
                    lift = float(event.params.get("product_c", physics.set_c)) - physics.set_c
                    heat = float(event.params.get("product_share", 0.0)) * physics.c_prod * lift
                    drivers.dense("product_heat")[rows, column] += heat / (t1 - t0)
        case EventType.HOT_AFTERNOON:
            kelvin = float(event.params.get("ambient_k", HOT_AFTERNOON_K))
            drivers.offsets.append(
                OutdoorOffset(np.asarray(columns, dtype=np.int64), t0, t1, kelvin, _HOT_RAMP_S)
            )
        case EventType.SITE_POWER_LOSS:
            rows = drivers.window(t0, t1)
            if len(rows):
                drivers.dense("powered")[np.ix_(rows, np.asarray(columns))] = False
