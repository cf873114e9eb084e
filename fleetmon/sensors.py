"""The 14 sensors of a refrigeration unit and their contract (domain §1.1, contract C2).

Django-free: the contract checks, the simulator and the feature code all import this one
catalogue, so a sensor is added or re-ranged in exactly one place (domain §2.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Sensor:
    name: str
    unit: str
    kind: Literal["number", "boolean"]
    low: float | None = None
    high: float | None = None

    @property
    def bit(self) -> int:
        """This sensor's bit in a device's `reporting_sensors` mask."""
        return 1 << SENSOR_NAMES.index(self.name)


SENSORS: tuple[Sensor, ...] = (
    Sensor("temperature_evaporator", "°C", "number", -60, 30),
    Sensor("temperature_condenser", "°C", "number", 20, 80),
    Sensor("temperature_ambient", "°C", "number", -40, 60),
    Sensor("temperature_discharge", "°C", "number", 30, 150),
    Sensor("temperature_suction", "°C", "number", -40, 30),
    Sensor("pressure_high_side", "kPa", "number", 500, 3500),
    Sensor("pressure_low_side", "kPa", "number", 50, 800),
    Sensor("current_compressor", "A", "number", 0, 50),
    Sensor("vibration_compressor", "mm/s", "number", 0, 100),
    Sensor("humidity", "%RH", "number", 0, 100),
    Sensor("door_open_close", "", "boolean"),
    Sensor("defrost_cycle", "", "boolean"),
    Sensor("superheat", "K", "number", -5, 50),
    Sensor("subcooling", "K", "number", -5, 30),
)

SENSOR_NAMES: tuple[str, ...] = tuple(s.name for s in SENSORS)
SENSOR_BY_NAME: dict[str, Sensor] = {s.name: s for s in SENSORS}
NUMERIC_SENSORS: tuple[str, ...] = tuple(s.name for s in SENSORS if s.kind == "number")
BOOLEAN_SENSORS: tuple[str, ...] = tuple(s.name for s in SENSORS if s.kind == "boolean")
ALL_SENSORS_MASK = (1 << len(SENSORS)) - 1
IS_BOOLEAN_SENSOR: tuple[bool, ...] = tuple(s.kind == "boolean" for s in SENSORS)
