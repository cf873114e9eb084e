"""The generator's output: rows gathered block by block into a frame, and raw messages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fleetmon.sensors import BOOLEAN_SENSORS, SENSOR_NAMES
from fleetmon.simulator.fleet import FleetLayout
from fleetmon.simulator.sensing import Record

COLUMNS: tuple[str, ...] = ("device_id", "timestamp", *SENSOR_NAMES)
STATE_COLUMNS: tuple[str, ...] = ("box_air", "product", "compressor_on", "powered", "sent")


class FrameOutput:
    """The columns of one frame, preallocated and filled block by block in row order."""

    def __init__(self, n_minutes: int, n_devices: int, with_state: bool) -> None:
        upper = n_minutes * n_devices
        self.with_state = with_state
        self.readings = np.empty((upper, len(SENSOR_NAMES)))
        self.minute = np.empty(upper, dtype=np.int64)
        self.device = np.empty(upper, dtype=np.int64)
        self.state = {
            name: np.empty(upper, dtype=np.float64 if name in ("box_air", "product") else bool)
            for name in (STATE_COLUMNS if with_state else ())
        }
        self.n = 0

    def add(self, minutes: np.ndarray, readings: np.ndarray, sent: np.ndarray, rec: Record) -> None:
        """Append a block's rows in (timestamp, device) order, keeping the rows sent."""
        n_minutes, n_devices = sent.shape
        flat_sent = sent.reshape(-1)
        keep = np.ones_like(flat_sent) if self.with_state else flat_sent
        rows = slice(self.n, self.n + int(keep.sum()))
        block = readings.reshape(-1, len(SENSOR_NAMES))
        if self.with_state:
            block[~flat_sent] = np.nan
            self.readings[rows] = block
        else:
            self.readings[rows] = block[keep]
        self.minute[rows] = np.repeat(minutes, n_devices)[keep]
        self.device[rows] = np.tile(np.arange(n_devices), n_minutes)[keep]
        if self.with_state:
            self.state["box_air"][rows] = rec.t_air.reshape(-1)
            self.state["product"][rows] = rec.t_prod.reshape(-1)
            self.state["compressor_on"][rows] = rec.comp_on.reshape(-1)
            self.state["powered"][rows] = rec.powered.reshape(-1)
            self.state["sent"][rows] = flat_sent
        self.n = rows.stop

    def frame(self, ids: np.ndarray) -> pd.DataFrame:
        """Return the rows gathered so far as the output DataFrame."""
        n = self.n
        frame = pd.DataFrame(self.readings[:n], columns=list(SENSOR_NAMES), copy=False)
        nanos = (self.minute[:n] * np.int64(60_000_000_000)).view("datetime64[ns]")
        frame.insert(0, "timestamp", pd.DatetimeIndex(nanos).tz_localize("UTC"))
        frame.insert(0, "device_id", pd.array(ids[self.device[:n]], dtype=str))
        for name, values in self.state.items():
            frame[name] = values[:n]
        return frame


def empty_frame(with_state: bool) -> pd.DataFrame:
    """Return a frame with the columns and no rows."""
    return FrameOutput(0, 0, with_state).frame(np.empty(0, dtype=object))


def to_messages(frame: pd.DataFrame, fleet: FleetLayout) -> list[dict]:
    """Turn generated rows into raw device messages (spec §1), JSON-native types only.

    A sensor the device does not carry is left out of `readings`; any other NaN becomes
    None. No `event_id`: the app derives one on ingest.
    """
    sensors_of = {d.device_id: d.sensors for d in fleet.devices}
    stamps = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    columns = {name: _json_values(frame[name].to_numpy(np.float64), name) for name in SENSOR_NAMES}
    messages = []
    for i, device_id in enumerate(frame["device_id"].tolist()):
        readings = {name: columns[name][i] for name in sensors_of[device_id]}
        messages.append({"device_id": device_id, "timestamp": stamps[i], "readings": readings})
    return messages


def _json_values(values: np.ndarray, name: str) -> list[float | bool | None]:
    """Convert one column to JSON-native values: float or bool, None for NaN."""
    if name in BOOLEAN_SENSORS:
        return [None if math.isnan(v) else v == 1.0 for v in values.tolist()]
    return [None if math.isnan(v) else v for v in values.tolist()]
