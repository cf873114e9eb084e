"""Equipment profiles: what each equipment model is, as rules and models need to know it.

Reads (`profiles_for_devices`), the contract of a profile's values (`profile_errors`, shared
by the service, the API and the admin), and the profiles `seed_demo` starts from. Writes
go through `fleetmon.registry.services.equipment_profile_save`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetmon.registry.models import DefrostType, Device, EquipmentProfile, ProductClass
from fleetmon.sensors import NUMERIC_SENSORS, SENSOR_BY_NAME, SENSOR_NAMES

# The fields a profile is made of, in the order the API and the history show them.
PROFILE_FIELDS: tuple[str, ...] = (
    "equipment_model",
    "description",
    "sensors",
    "defrost_type",
    "defrost_interval_hours",
    "defrost_max_minutes",
    "product_class",
    "normal_ranges",
)
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# Controller practice (domain §14): defrost every 1.5-12 h (once a day at the longest for
# off-cycle coolers), for at most 20-45 min; the same bounds as the streaming thresholds.
DEFROST_INTERVAL_HOURS = (1.5, 24.0)
DEFROST_MAX_MINUTES = (5, 240)


@dataclass(frozen=True)
class ProfileData:
    """An equipment profile as plain values; `normal_ranges` maps sensor to (low, high)."""

    equipment_model: str
    sensors: tuple[str, ...]
    defrost_type: str
    defrost_interval_hours: float | None
    defrost_max_minutes: int | None
    product_class: str
    normal_ranges: Mapping[str, tuple[float, float]]
    description: str = ""

    @property
    def defrosts(self) -> bool:
        """Return whether the equipment defrosts at all."""
        return self.defrost_type != DefrostType.NONE

    def has_sensor(self, name: str) -> bool:
        """Return whether units of this model carry the sensor `name`."""
        return name in self.sensors


def profile_data(profile: EquipmentProfile) -> ProfileData:
    """Return the plain values of a stored profile."""
    return ProfileData(
        equipment_model=profile.equipment_model,
        sensors=tuple(profile.sensors),
        defrost_type=profile.defrost_type,
        defrost_interval_hours=profile.defrost_interval_hours,
        defrost_max_minutes=profile.defrost_max_minutes,
        product_class=profile.product_class,
        normal_ranges={
            sensor: (float(r["low"]), float(r["high"]))
            for sensor, r in profile.normal_ranges.items()
        },
        description=profile.description,
    )


def profiles_for_devices(*, device_ids: Iterable[str]) -> dict[str, ProfileData | None]:
    """Return each device's equipment profile; None when its model (or the device) has none."""
    ids = list(dict.fromkeys(device_ids))
    models = dict(Device.objects.filter(pk__in=ids).values_list("device_id", "equipment_model"))
    profiles = {
        p.equipment_model: profile_data(p)
        for p in EquipmentProfile.objects.filter(equipment_model__in=set(models.values()))
    }
    return {device_id: profiles.get(models.get(device_id, "")) for device_id in ids}


def profile_values(profile: EquipmentProfile) -> dict[str, Any]:
    """Return a stored profile's fields as JSON-ready values (for the history)."""
    return {name: getattr(profile, name) for name in PROFILE_FIELDS}


def profile_errors(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return what is wrong with a profile's values, per field (an empty dict: nothing).

    `values` holds every field of PROFILE_FIELDS. Errors are lists of messages, except for
    `normal_ranges`, whose errors are keyed by sensor.
    """
    errors: dict[str, Any] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    name = values.get("equipment_model")
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        error(
            "equipment_model",
            "1-32 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    sensors = values.get("sensors")
    if not isinstance(sensors, list | tuple) or not sensors:
        error("sensors", "list at least one sensor")
        sensors = []
    else:
        unknown = [s for s in sensors if s not in SENSOR_NAMES]
        if unknown:
            error("sensors", f"unknown sensors {unknown}; known: {', '.join(SENSOR_NAMES)}")
        if len(set(sensors)) != len(sensors):
            error("sensors", "a sensor is listed twice")
    defrost_type = values.get("defrost_type")
    if defrost_type not in DefrostType.values:
        error("defrost_type", f"one of {', '.join(DefrostType.values)}")
    if values.get("product_class") not in ProductClass.values:
        error("product_class", f"one of {', '.join(ProductClass.values)}")
    _check_defrost(values, defrost_type, error)
    ranges = _range_errors(values.get("normal_ranges"), sensors)
    if ranges:
        errors["normal_ranges"] = ranges
    return errors


def _check_defrost(values: Mapping[str, Any], defrost_type: object, error) -> None:
    for field, (low, high), unit in (
        ("defrost_interval_hours", DEFROST_INTERVAL_HOURS, "h"),
        ("defrost_max_minutes", DEFROST_MAX_MINUTES, "min"),
    ):
        value = values.get(field)
        if defrost_type == DefrostType.NONE:
            if value is not None:
                error(field, "must be empty: the equipment does not defrost")
        elif value is None:
            error(field, "required for equipment that defrosts")
        elif not _is_number(value) or field == "defrost_max_minutes" and value != int(value):
            error(field, "a whole number of minutes" if "minutes" in field else "a number")
        elif not low <= value <= high:
            error(field, f"between {low:g} and {high:g} {unit}, not {value:g}")


def _is_number(value: object) -> bool:
    # bool is an int to Python, never to a person filling in a form.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range_errors(ranges: object, sensors: Iterable[str]) -> dict[str, Any]:
    if not isinstance(ranges, Mapping):
        return {"non_field_errors": ["an object of {sensor: {low, high}}"]}
    errors: dict[str, list[str]] = {}
    for sensor, bounds in ranges.items():
        problems = errors.setdefault(str(sensor), [])
        if sensor not in SENSOR_BY_NAME:
            problems.append("unknown sensor")
        elif sensor not in NUMERIC_SENSORS:
            problems.append("a boolean sensor has no range")
        elif sensor not in sensors:
            problems.append("not a sensor of this equipment model")
        elif (
            not isinstance(bounds, Mapping)
            or set(bounds) != {"low", "high"}
            or not all(_is_number(bounds[k]) for k in ("low", "high"))
        ):
            problems.append('an object {"low": number, "high": number}')
        else:
            low, high = bounds["low"], bounds["high"]
            valid = SENSOR_BY_NAME[sensor]
            if low >= high:
                problems.append(f"low ({low:g}) must be below high ({high:g})")
            if low < valid.low or high > valid.high:
                problems.append(
                    f"{low:g}..{high:g} leaves the sensor's valid range "
                    f"{valid.low:g}..{valid.high:g} {valid.unit}"
                )
    return {sensor: problems for sensor, problems in errors.items() if problems}


# ---------------------------------------------------------------- defaults


def _ranges(**bounds: tuple[float, float]) -> dict[str, dict[str, float]]:
    return {sensor: {"low": low, "high": high} for sensor, (low, high) in bounds.items()}


# Normal operating ranges outside defrost, from refrigeration practice (R-404A / R-448A
# class refrigerants, pressures absolute): the coil runs 6-10 K below the box and warms
# towards it while the compressor rests; condensing runs 8-15 K above ambient; superheat
# and subcooling 3-15 K; running current about the rated load amps of the compressor
# (5 HP ~15 A, 3 HP ~10 A, 2 HP ~6 A at 230 V), up to ~1.5x under heavy load; vibration
# up to the ISO 10816 limit for small reciprocating machines (18 mm/s). The evaporator's
# high end is where a 15-minute mean says the coil no longer cools: above the product's
# safe limit (chilled 5 °C) for coolers, well above the box (-10 °C) for freezers.
_COMMON = {
    "temperature_condenser": (25.0, 60.0),
    "temperature_ambient": (-20.0, 45.0),
    "pressure_high_side": (900.0, 2600.0),
    "vibration_compressor": (0.0, 18.0),
    "superheat": (3.0, 15.0),
    "subcooling": (3.0, 15.0),
}
DEFAULT_PROFILES: dict[str, dict[str, Any]] = {
    "WF-5HP": {
        "description": "walk-in freezer, 5 HP condensing unit (box -18 to -23 °C)",
        "sensors": list(SENSOR_NAMES),
        "defrost_type": DefrostType.ELECTRIC,
        "defrost_interval_hours": 6.0,
        "defrost_max_minutes": 45,
        "product_class": ProductClass.FROZEN,
        "normal_ranges": _ranges(
            **_COMMON,
            temperature_evaporator=(-35.0, -10.0),
            temperature_discharge=(50.0, 120.0),
            temperature_suction=(-35.0, 0.0),
            pressure_low_side=(100.0, 450.0),
            current_compressor=(0.0, 24.0),
            humidity=(40.0, 95.0),
        ),
    },
    "WC-3HP": {
        "description": "walk-in cooler, 3 HP condensing unit (box +1 to +4 °C)",
        "sensors": list(SENSOR_NAMES),
        "defrost_type": DefrostType.OFF_CYCLE,
        "defrost_interval_hours": 6.0,
        "defrost_max_minutes": 40,
        "product_class": ProductClass.CHILLED,
        "normal_ranges": _ranges(
            **_COMMON,
            temperature_evaporator=(-15.0, 5.0),
            temperature_discharge=(45.0, 110.0),
            temperature_suction=(-15.0, 15.0),
            pressure_low_side=(150.0, 700.0),
            current_compressor=(0.0, 15.0),
            humidity=(50.0, 98.0),
        ),
    },
    "DC-2HP": {
        "description": "medium-temperature display case, 2 HP (product 0 to +4 °C)",
        "sensors": list(SENSOR_NAMES),
        "defrost_type": DefrostType.OFF_CYCLE,
        "defrost_interval_hours": 6.0,
        "defrost_max_minutes": 40,
        "product_class": ProductClass.CHILLED,
        "normal_ranges": _ranges(
            **_COMMON,
            temperature_evaporator=(-15.0, 5.0),
            temperature_discharge=(45.0, 110.0),
            temperature_suction=(-15.0, 15.0),
            pressure_low_side=(150.0, 700.0),
            current_compressor=(0.0, 10.0),
            humidity=(40.0, 95.0),
        ),
    },
    "DF-3HP": {
        "description": "low-temperature display freezer, 3 HP (product -18 to -25 °C)",
        "sensors": list(SENSOR_NAMES),
        "defrost_type": DefrostType.HOT_GAS,
        "defrost_interval_hours": 8.0,
        "defrost_max_minutes": 30,
        "product_class": ProductClass.FROZEN,
        "normal_ranges": _ranges(
            **_COMMON,
            temperature_evaporator=(-40.0, -12.0),
            temperature_discharge=(50.0, 120.0),
            temperature_suction=(-40.0, -5.0),
            pressure_low_side=(80.0, 400.0),
            current_compressor=(0.0, 15.0),
            humidity=(40.0, 95.0),
        ),
    },
}
