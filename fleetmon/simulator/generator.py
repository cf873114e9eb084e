"""Readings of a simulated fleet: one row per device per whole minute, from the physics.

The simulation runs forward in time from its origin (the first minute ever asked, unless
given), vectorised over devices, two 30 s steps per minute (simulator.physics). Each frame
keeps the state at its end, so the next consecutive frame costs only its own minutes;
periodic checkpoints serve requests for earlier minutes. Random numbers are hashes of
(seed, device, stream, step), so `frame(t0, t2)` equals `frame(t0, t1)` followed by
`frame(t1, t2)` exactly, and a trajectory depends only on (seed, fleet, faults, events,
origin).

Each fault's failure point is found on the way: the first minute after its onset at which
the box air has been above its product's safe limit for 30 continuous minutes, or at which
the equipment tripped (overload trip, bearing seizure).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fleetmon.sensors import SENSOR_NAMES
from fleetmon.simulator.ambient import AmbientModel, OutdoorOffset
from fleetmon.simulator.doors import DoorModel
from fleetmon.simulator.drivers import BlockDrivers, constant_inputs
from fleetmon.simulator.events import (
    DAY_MIN,
    EventSpec,
    EventType,
    apply_event,
    device_day_events,
)
from fleetmon.simulator.faults import (
    TRIPPING,
    FaultSpec,
    FaultType,
    apply_fault,
    seizure_time,
)
from fleetmon.simulator.fleet import DeviceSpec, FleetLayout, epoch_minute, minute_datetime
from fleetmon.simulator.output import (
    COLUMNS,
    STATE_COLUMNS,
    FrameOutput,
    empty_frame,
    to_messages,
)
from fleetmon.simulator.params import FIELDS
from fleetmon.simulator.physics import (
    STEP_S,
    STEPS_PER_MINUTE,
    Params,
    State,
    initial_state,
    step,
)
from fleetmon.simulator.randomness import device_keys, stream_key, uniform_parts
from fleetmon.simulator.sensing import (
    Glitch,
    Record,
    Sensors,
    Silence,
    Stuck,
    measure_true,
    record_minute,
    true_value,
)

__all__ = ["COLUMNS", "STATE_COLUMNS", "FleetGenerator", "SimState", "to_messages"]

FAILURE_HOLD_MIN = 30
# A repaired box still pulls down for a while; a failure point can fall this long after.
FAILURE_GRACE_MIN = 180
SPINUP_MIN = 360
CHECKPOINT_MIN = 360
CHECKPOINT_BUDGET_BYTES = 512 * 1024 * 1024
BLOCK_CELLS = 1 << 19
MAX_BLOCK_MIN = 720
_ROUTINE_DAYS_CACHED = 8
_STREAM_INITIAL = 50
_LONGEST_EVENT_MIN = 120


@dataclass
class SimState:
    """The physics of every device at `minute`, with what the fault tracking has seen."""

    minute: int
    physics: State
    stuck_value: np.ndarray  # per fault, the value a stuck sensor froze at (NaN before)
    excursion: np.ndarray  # per fault, minute the box air left its safe band (-1: inside)
    failure: np.ndarray  # per fault, failure minute (-1: not yet)

    def copy(self) -> SimState:
        """Return a deep copy."""
        return SimState(
            self.minute,
            self.physics.copy(),
            self.stuck_value.copy(),
            self.excursion.copy(),
            self.failure.copy(),
        )

    def nbytes(self) -> int:
        """Return the memory the arrays take."""
        return self.physics.nbytes() + 3 * self.failure.nbytes


class FleetGenerator:
    """Simulate a fleet's physics and produce its minute readings, faults and events included.

    `events=None` gives the fleet its routine harmless events for the seed (restocking,
    deliveries, sensor glitches, drawn day by day); a sequence gives exactly those events.
    `origin` fixes where the simulation starts (default: the first minute asked for).
    """

    def __init__(
        self,
        fleet: FleetLayout,
        faults: Sequence[FaultSpec],
        *,
        seed: int,
        events: Sequence[EventSpec] | None = None,
        null_rate: float = 0.02,
        origin: datetime | None = None,
    ) -> None:
        if not 0.0 <= null_rate <= 1.0:
            raise ValueError("null_rate must be in [0, 1]")
        self.fleet = fleet
        self.seed = seed
        self.null_rate = null_rate
        # Rows come out sorted by (timestamp, device_id), so keep the columns in id order.
        self.devices: tuple[DeviceSpec, ...] = tuple(
            sorted(fleet.devices, key=lambda d: d.device_id)
        )
        self._column = {d.device_id: j for j, d in enumerate(self.devices)}
        unknown = {f.device_id for f in faults} - set(self._column)
        if unknown:
            raise ValueError(f"faults for devices not in the fleet: {sorted(unknown)}")
        self.faults = tuple(faults)
        self.events: tuple[EventSpec, ...] | None = None if events is None else tuple(events)
        if self.events is not None:
            ghosts = {i for e in self.events for i in e.device_ids} - set(self._column)
            if ghosts:
                raise ValueError(f"events for devices not in the fleet: {sorted(ghosts)}")
        self._ids = np.array([d.device_id for d in self.devices], dtype=object)
        n = len(self.devices)
        table = np.array([d.physics for d in self.devices], dtype=np.float64).reshape(
            n, len(FIELDS)
        )
        self._p = Params(table)
        self._keys = device_keys([d.noise_key for d in self.devices], seed)
        self._ambient = AmbientModel(fleet, self.devices)
        self._doors = DoorModel(self._keys, self._p, self._ambient.local_hour)
        lacking = np.array(
            [[name not in d.sensors for name in SENSOR_NAMES] for d in self.devices], dtype=bool
        ).reshape(n, len(SENSOR_NAMES))
        self._sensors = Sensors(self._keys, self._p, lacking, null_rate)
        self._constants = constant_inputs(n)
        self._limit = np.array([d.safe_limit_c for d in self.devices])
        self._fault_arrays()
        self._event_arrays()
        # Outdoor temperature offsets on top of the weather (covariate shifts).
        self._outdoor_offsets: list[OutdoorOffset] = []
        self._origin = None if origin is None else _aligned_minute(origin)
        self._cursor: SimState | None = None
        self._checkpoints: dict[int, SimState] = {}
        self._routine: OrderedDict[int, _EventIndex] = OrderedDict()
        self._found: dict[int, int] = {}
        self._simulated_until: int | None = None

    # ----------------------------------------------------------------- public API

    @property
    def origin(self) -> datetime | None:
        """Return the minute the simulation starts from (None until the first frame)."""
        return None if self._origin is None else minute_datetime(self._origin)

    def frame(self, start: datetime, end: datetime, *, with_state: bool = False) -> pd.DataFrame:
        """Return every device's readings for each minute in [start, end).

        With `with_state`, every (minute, device) gets a row, sent or not, with the ground
        truth columns `box_air`, `product` (°C), `compressor_on`, `powered` and `sent`.
        """
        m0, m1 = _aligned_minute(start), _aligned_minute(end)
        if m1 < m0:
            raise ValueError("end must not be before start")
        if self._origin is None:
            self._origin = m0
        if m0 < self._origin:
            raise ValueError(
                f"the simulation starts at {minute_datetime(self._origin):%Y-%m-%d %H:%M}; "
                "it cannot produce readings before its origin"
            )
        if m1 == m0 or not self.devices:
            return empty_frame(with_state)
        state = self._state_at(m0)
        output = FrameOutput(m1 - m0, len(self.devices), with_state)
        for b0, b1 in self._blocks(m0, m1):
            self._advance(state, b0, b1, output=output)
        self._cursor = state
        return output.frame(self._ids)

    def failure_points(self) -> dict[FaultSpec, datetime | None]:
        """Return each fault's failure point as simulated so far (None: not reached yet)."""
        out: dict[FaultSpec, datetime | None] = {}
        for f, fault in enumerate(self.faults):
            found = self._found.get(f)
            moment = None if found is None else minute_datetime(found)
            seized = seizure_time(fault)
            if (
                seized is not None
                and self._simulated_until is not None
                and epoch_minute(seized) < self._simulated_until
            ):
                moment = seized if moment is None else min(moment, seized)
            out[fault] = moment
        return out

    # ----------------------------------------------------------------- the timeline

    def _state_at(self, minute: int) -> SimState:
        """Return a state at `minute`: the cursor, a checkpoint or the origin, run forward."""
        cursor = self._cursor if self._cursor and self._cursor.minute <= minute else None
        best = max((m for m in self._checkpoints if m <= minute), default=None)
        if cursor is not None and (best is None or cursor.minute >= best):
            state = cursor
            self._cursor = None
        elif best is not None:
            state = self._checkpoints[best].copy()
        else:
            state = self._origin_state()
        for b0, b1 in self._blocks(state.minute, minute):
            self._advance(state, b0, b1)
        return state

    def _origin_state(self) -> SimState:
        """Return the state at the origin: a plausible start, spun up for some hours."""
        assert self._origin is not None
        begin = self._origin - SPINUP_MIN
        seconds = np.array([begin * 60.0])
        t_unit = self._ambient.at(seconds, self._outdoor_offsets).unit_c[0]
        uniforms = uniform_parts(stream_key(self._keys, _STREAM_INITIAL))
        n_faults = len(self.faults)
        state = SimState(
            minute=begin,
            physics=initial_state(self._p, t_unit, uniforms),
            stuck_value=np.full(n_faults, np.nan),
            excursion=np.full(n_faults, -1, dtype=np.int64),
            failure=np.full(n_faults, -1, dtype=np.int64),
        )
        for b0, b1 in self._blocks(begin, self._origin):
            self._advance(state, b0, b1)
        self._checkpoints[self._origin] = state.copy()
        return state

    def _blocks(self, m0: int, m1: int) -> list[tuple[int, int]]:
        """Cut [m0, m1) into blocks that bound memory and end on checkpoint minutes."""
        size = max(1, min(MAX_BLOCK_MIN, BLOCK_CELLS // max(1, len(self.devices))))
        out = []
        cursor = m0
        while cursor < m1:
            upto = min(cursor + size, m1, (cursor // CHECKPOINT_MIN + 1) * CHECKPOINT_MIN)
            out.append((cursor, upto))
            cursor = upto
        return out

    def _advance(
        self, state: SimState, m0: int, m1: int, output: FrameOutput | None = None
    ) -> None:
        """Run the state from m0 to m1, adding that block's rows to `output` if given."""
        assert state.minute == m0
        self._checkpoint(state)
        events = self._events_in(m0, m1)
        drivers = self._drivers(m0, m1, events)
        n_minutes = m1 - m0
        record = Record.empty(n_minutes, len(self.devices)) if output is not None else None
        s = state.physics
        wear = drivers.dense("wear") if drivers.touched("wear") else None
        powered = drivers.dense("powered") if drivers.touched("powered") else None
        for i in range(n_minutes):
            minute = m0 + i
            if record is not None:
                record_minute(record, i, s, drivers, wear, powered, self._p)
            self._track(state, minute, drivers, i)
            for sub in range(STEPS_PER_MINUTE):
                step(s, self._p, drivers.step_inputs(STEPS_PER_MINUTE * i + sub, self._constants))
        state.minute = m1
        if self._simulated_until is None or m1 > self._simulated_until:
            self._simulated_until = m1
        if record is None or output is None:
            return
        minutes = np.arange(m0, m1, dtype=np.int64)
        readings, sent = self._sensors.readings(
            record,
            minutes,
            self._stuck(state, m0, m1),
            self._glitches(m0, m1, events),
            self._silences(m0, m1),
        )
        output.add(minutes, readings, sent, record)

    def _checkpoint(self, state: SimState) -> None:
        """Keep a copy of the state on checkpoint minutes, within a memory budget."""
        if state.minute % CHECKPOINT_MIN or state.minute in self._checkpoints:
            return
        self._checkpoints[state.minute] = state.copy()
        while (
            len(self._checkpoints) > 2
            and sum(c.nbytes() for c in self._checkpoints.values()) > CHECKPOINT_BUDGET_BYTES
        ):
            # Thin out: keep the origin and every other checkpoint after it.
            kept = sorted(self._checkpoints)
            for minute in kept[1::2]:
                if minute != self._origin:
                    del self._checkpoints[minute]

    # ----------------------------------------------------------------- faults and events

    def _fault_arrays(self) -> None:
        """Index the faults by device column and time, for the per-minute tracking."""
        faults = self.faults
        self._f_col = np.array([self._column[f.device_id] for f in faults], dtype=np.int64)
        self._f_onset = np.array([epoch_minute(f.start) for f in faults], dtype=np.int64)
        self._f_end = np.array([epoch_minute(f.end) for f in faults], dtype=np.int64)
        self._f_limit = self._limit[self._f_col] if faults else np.empty(0)
        self._f_trips = np.array([f.fault_type in TRIPPING for f in faults], dtype=bool)
        self._f_stuck_at: dict[int, list[int]] = {}
        for f, fault in enumerate(faults):
            if fault.fault_type is FaultType.SENSOR_STUCK:
                self._f_stuck_at.setdefault(int(self._f_onset[f]), []).append(f)

    def _event_arrays(self) -> None:
        """Index explicit events by time."""
        self._explicit = None if self.events is None else _EventIndex(self.events)

    def _events_in(self, m0: int, m1: int) -> list[EventSpec]:
        """Return the events that overlap [m0, m1)."""
        if self._explicit is not None:
            return self._explicit.overlapping(m0, m1)
        out: list[EventSpec] = []
        for day in range((m0 - _LONGEST_EVENT_MIN) // DAY_MIN - 1, m1 // DAY_MIN + 2):
            out += self._routine_day(day).overlapping(m0, m1)
        return out

    def _routine_day(self, day: int) -> _EventIndex:
        """Return (cached) the routine events of every device for one local day."""
        if day not in self._routine:
            self._routine[day] = _EventIndex(
                [e for d in self.devices for e in device_day_events(d, self.seed, day)]
            )
            while len(self._routine) > _ROUTINE_DAYS_CACHED:
                self._routine.popitem(last=False)
        return self._routine[day]

    def _drivers(self, m0: int, m1: int, events: list[EventSpec]) -> BlockDrivers:
        """Build the inputs of every step in [m0, m1)."""
        n_steps = STEPS_PER_MINUTE * (m1 - m0)
        seconds = m0 * 60.0 + STEP_S * np.arange(n_steps)
        drivers = BlockDrivers(seconds=seconds, n_devices=len(self.devices))
        if len(self.faults):
            # A fault acts on [start, end]; the end step carries its repair.
            hits = np.flatnonzero((self._f_onset < m1) & (self._f_end >= m0))
            for f in hits:
                column = int(self._f_col[f])
                apply_fault(self.faults[f], drivers, column, self.devices[column])
        for event in events:
            columns = [self._column[i] for i in event.device_ids]
            apply_event(event, drivers, columns, [self.devices[c] for c in columns])
        drivers.offsets.extend(self._outdoor_offsets)
        drivers.ambient = self._ambient.at(seconds, drivers.offsets)
        drivers.door, drivers.door_reading = self._doors.block(
            int(round(seconds[0] / STEP_S)), n_steps, drivers.forced_doors
        )
        drivers.defrost_due = self._defrost_due(m0, m1, drivers)
        return drivers

    def _defrost_due(self, m0: int, m1: int, drivers: BlockDrivers) -> np.ndarray:
        """Return where a scheduled defrost starts: the first step of its minute."""
        p = self._p
        minutes = np.arange(m0, m1, dtype=np.int64)
        interval = np.maximum(p.defrost_interval_min.astype(np.int64), 1)
        phase = p.defrost_phase_min.astype(np.int64)
        due_min = ((minutes[:, None] - phase[None, :]) % interval[None, :] == 0) & p.scheduled
        for column, t0, t1 in drivers.defrost_suppressed:
            rows = (minutes * 60.0 >= t0) & (minutes * 60.0 < t1)
            due_min[rows, column] = False
        for column, t0 in drivers.defrost_forced:
            rows = minutes * 60.0 == t0
            due_min[rows, column] = True
        due = np.zeros((len(minutes) * STEPS_PER_MINUTE, len(self.devices)), dtype=bool)
        due[::STEPS_PER_MINUTE] = due_min
        return due

    def _track(self, state: SimState, minute: int, drivers: BlockDrivers, i: int) -> None:
        """Follow each fault's box air and trips to find its failure point."""
        if not len(self.faults):
            return
        s = state.physics
        cols = self._f_col
        active = (minute >= self._f_onset) & (minute < self._f_end + FAILURE_GRACE_MIN)
        active &= state.failure < 0
        above = active & (s.t_air[cols] > self._f_limit)
        state.excursion = np.where(
            above, np.where(state.excursion < 0, minute, state.excursion), -1
        )
        reached = above & (minute - state.excursion >= FAILURE_HOLD_MIN)
        tripped = active & self._f_trips & s.locked[cols]
        state.failure = np.where(reached, state.excursion + FAILURE_HOLD_MIN, state.failure)
        state.failure = np.where(tripped & (state.failure < 0), minute, state.failure)
        for f in np.flatnonzero(reached | tripped):
            self._found.setdefault(int(f), int(state.failure[f]))
        for f in self._f_stuck_at.get(minute, ()):
            column = int(cols[f])
            sensor = str(self.faults[f].params.get("sensor", "temperature_evaporator"))
            true = true_value(s, drivers, i, column, sensor)
            state.stuck_value[f] = measure_true(sensor, true, self._p, column)

    def _faults_in(self, m0: int, m1: int) -> np.ndarray:
        """Return the indices of the faults acting in [m0, m1)."""
        return np.flatnonzero((self._f_onset < m1) & (self._f_end > m0))

    def _stuck(self, state: SimState, m0: int, m1: int) -> list[Stuck]:
        """Return the stuck sensors acting in [m0, m1)."""
        out = []
        for f in self._faults_in(m0, m1):
            fault = self.faults[f]
            if fault.fault_type is not FaultType.SENSOR_STUCK:
                continue
            if not np.isnan(state.stuck_value[f]):
                sensor = str(fault.params.get("sensor", "temperature_evaporator"))
                out.append(
                    Stuck(
                        int(self._f_col[f]),
                        sensor,
                        int(self._f_onset[f]),
                        int(self._f_end[f]),
                        float(state.stuck_value[f]),
                    )
                )
        return out

    def _glitches(self, m0: int, m1: int, events: list[EventSpec]) -> list[Glitch]:
        """Return the sensor glitches in [m0, m1) among a block's events."""
        return [
            Glitch(
                self._column[e.device_ids[0]],
                str(e.params["sensor"]),
                epoch_minute(e.start),
                float(e.params["value"]),
            )
            for e in events
            if e.event_type is EventType.SENSOR_GLITCH and m0 <= epoch_minute(e.start) < m1
        ]

    def _silences(self, m0: int, m1: int) -> list[Silence]:
        """Return the dropouts acting in [m0, m1)."""
        out = []
        for f in self._faults_in(m0, m1):
            fault = self.faults[f]
            column, start, end = int(self._f_col[f]), int(self._f_onset[f]), int(self._f_end[f])
            if fault.fault_type is FaultType.FULL_DROPOUT:
                out.append(Silence(column, start, end))
            elif fault.fault_type is FaultType.INTERMITTENT_DROPOUT:
                share = float(fault.params.get("null_row_fraction", 0.3))
                out.append(Silence(column, start, end, share, full=False))
        return out


class _EventIndex:
    """Events with their start and end minutes as arrays, to find a block's ones fast."""

    def __init__(self, events: Sequence[EventSpec]) -> None:
        self.events = list(events)
        self.start = np.array([epoch_minute(e.start) for e in self.events], dtype=np.int64)
        self.end = np.array([epoch_minute(e.end) for e in self.events], dtype=np.int64)

    def overlapping(self, m0: int, m1: int) -> list[EventSpec]:
        """Return the events that overlap [m0, m1)."""
        return [self.events[i] for i in np.flatnonzero((self.start < m1) & (self.end > m0))]


def _aligned_minute(moment: datetime) -> int:
    """Return the epoch minute of a tz-aware datetime that falls on a whole minute."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    if moment.second or moment.microsecond or moment.utcoffset() % timedelta(minutes=1):
        raise ValueError("datetimes must be aligned to the minute")
    return epoch_minute(moment)
