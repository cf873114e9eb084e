"""One wide reading as the streaming rules see it, and the sensors they read."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fleetmon.sensors import SENSOR_BY_NAME

# Looked up in the catalogue so a renamed sensor fails at import, not silently at run time.
CURRENT_COMPRESSOR = SENSOR_BY_NAME["current_compressor"].name
VIBRATION_COMPRESSOR = SENSOR_BY_NAME["vibration_compressor"].name
PRESSURE_LOW_SIDE = SENSOR_BY_NAME["pressure_low_side"].name
TEMPERATURE_EVAPORATOR = SENSOR_BY_NAME["temperature_evaporator"].name
DEFROST_CYCLE = SENSOR_BY_NAME["defrost_cycle"].name
DOOR_OPEN_CLOSE = SENSOR_BY_NAME["door_open_close"].name
# Box (cabinet) air: none of the 14 catalogue sensors measures it today (domain §1.1). A
# device that reports it under this name gets its cooling-loss and stuck-defrost verdicts
# checked against it (physics §2); every rule works without it.
TEMPERATURE_BOX = "temperature_box"

Point = tuple[datetime, float]


@dataclass(frozen=True)
class Reading:
    """One wide reading of one device; a missing or None value means the sensor was silent."""

    device_id: str
    timestamp: datetime
    values: Mapping[str, float | bool | None]

    def __post_init__(self) -> None:
        """Reject naive timestamps and normalise aware ones to UTC."""
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise ValueError(f"Reading timestamp must be timezone-aware: {self.timestamp!r}")
        # Frozen: set through object so every window compares UTC instants.
        object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))

    def number(self, sensor: str) -> float | None:
        """Return a numeric sensor's value, or None when it is missing or not a finite number."""
        value = _plain(self.values.get(sensor))
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None

    def flag(self, sensor: str) -> bool | None:
        """Return a boolean sensor's state, or None when it is missing."""
        value = _plain(self.values.get(sensor))
        if isinstance(value, bool):
            return value
        # Stored readings may carry booleans as 0/1 numbers.
        if isinstance(value, int | float) and math.isfinite(value):
            return value != 0
        return None


def _plain(value: Any) -> Any:
    """Unwrap a numpy scalar (a DataFrame row's value) without importing numpy."""
    # np.bool_ is neither bool nor int, so it would otherwise read as a silent sensor.
    return value.item() if hasattr(value, "item") else value


def at(seconds: float) -> datetime:
    """The UTC instant of an epoch-seconds time (the state keeps times as floats)."""
    return datetime.fromtimestamp(seconds, UTC)
