"""Routine door openings: a random process per device, counter-based so chunks agree.

Each 30 s step, a device's door may start an opening with probability rate·dt; the rate
depends on local time (busy store hours, quiet nights) and the opening's length is drawn
from an exponential around the device's mean, clipped to its longest. Openings that
start and end between two readings still let warm air in; a reading shows the door open
only when an opening spans its instant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fleetmon.simulator.physics import STEP_S, Params
from fleetmon.simulator.randomness import hash_grid, stream_key, uniform_parts

STREAM_DOOR = 400
_SHORTEST_S = 3.0


@dataclass(frozen=True)
class ForcedOpening:
    """A door held open on one device column over [start_s, end_s) (epoch seconds)."""

    column: int
    start_s: float
    end_s: float


class DoorModel:
    """Compute door-open shares per step and door readings per minute."""

    def __init__(
        self,
        keys: np.ndarray,
        params: Params,
        local_hour: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self._keys = stream_key(keys, STREAM_DOOR)
        self._busy = params.door_busy_per_h
        self._quiet = params.door_quiet_per_h
        self._mean_s = params.door_mean_s
        self._max_s = params.door_max_s
        self._open_hour = params.open_hour
        self._close_hour = params.close_hour
        self._local_hour = local_hour
        self._lookback = int(math.ceil(float(np.max(self._max_s, initial=0.0)) / STEP_S)) + 1

    def block(
        self, first_step: int, n_steps: int, forced: Sequence[ForcedOpening]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the (step, device) open share and the (minute, device) readings.

        Steps run from `first_step` (epoch seconds / 30); minutes are the instants at every
        second step boundary from the first.
        """
        lookback = self._lookback
        steps = np.arange(first_step - lookback, first_step + n_steps, dtype=np.int64)
        begin = steps * STEP_S
        hour = self._local_hour(begin)
        span = self._close_hour - self._open_hour
        into = (hour - self._open_hour[None, :]) / span[None, :]
        busy = (into >= 0.0) & (into < 1.0)
        # Busier around the middle of opening hours.
        shape = 0.75 + 0.5 * np.sin(np.pi * np.clip(into, 0.0, 1.0))
        rate = np.where(busy, self._busy[None, :] * shape, self._quiet[None, :])
        u_start, u_length, u_offset = uniform_parts(hash_grid(self._keys, steps))
        starts = u_start < rate * (STEP_S / 3600.0)
        length = -self._mean_s[None, :] * np.log1p(-u_length)
        length = np.clip(length, _SHORTEST_S, self._max_s[None, :])
        open_from = begin[:, None] + u_offset * STEP_S
        open_to = np.where(starts, open_from + length, open_from)

        share = np.zeros((n_steps, len(self._busy)))
        window = slice(lookback, lookback + n_steps)
        step_begin = begin[window][:, None]
        for lag in range(lookback + 1):
            rows = slice(lookback - lag, lookback - lag + n_steps)
            overlap = np.minimum(open_to[rows], step_begin + STEP_S) - np.maximum(
                open_from[rows], step_begin
            )
            share += np.clip(overlap, 0.0, STEP_S)
        share /= STEP_S

        # Readings at each minute instant: an opening that started before and lasts past it.
        instants = begin[window][::2]
        reading = np.zeros((len(instants), len(self._busy)), dtype=bool)
        for lag in range(1, lookback + 1):
            rows = slice(lookback - lag, lookback - lag + n_steps, 1)
            started = open_from[rows][::2]
            ended = open_to[rows][::2]
            reading |= (started <= instants[:, None]) & (ended > instants[:, None])

        for opening in forced:
            overlap = np.minimum(opening.end_s, step_begin[:, 0] + STEP_S) - np.maximum(
                opening.start_s, step_begin[:, 0]
            )
            column = opening.column
            share[:, column] = np.maximum(share[:, column], np.clip(overlap, 0.0, STEP_S) / STEP_S)
            held = (instants >= opening.start_s) & (instants < opening.end_s)
            reading[:, column] |= held
        return np.minimum(share, 1.0), reading
