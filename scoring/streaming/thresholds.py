"""The streaming rules' limits: one frozen set per device, with physically sane ranges.

Each field carries its range in `metadata["limits"]`; a value outside it is refused by the
threshold editor (alerts.thresholds), not clipped. Counts (`*_persist_k`, `*_persist_n`,
`vibration_min_history`) are whole numbers of readings. Relations between fields (a clear
level on the safe side of its trip level, k <= n) are checked at edit time by `problems`;
the rule code also tolerates a set that breaks them, so a cohort change can never stop a
worker from loading a device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def _limit(default: float, low: float, high: float, *, whole: bool = False) -> Any:
    return field(default=default, metadata={"limits": (low, high), "whole": whole})


@dataclass(frozen=True)
class Thresholds:
    """Rule limits for one device; per-device or cohort overrides are another instance."""

    # Device state: when a reading can be judged at all.
    min_run_minutes: float = _limit(3, 1, 30)
    post_defrost_minutes: float = _limit(30, 0, 240)
    gap_minutes: float = _limit(10, 3, 240)
    restart_minutes: float = _limit(30, 0, 240)
    # Compressor overload: over the backstop, or a multiple of the learned running current.
    # At most the sensor's top (domain §1.1: 0-50 A; a higher reading is nulled, so a higher
    # limit could never fire); at least the smallest running compressor's draw (~5 A).
    compressor_overload_amps: float = _limit(40.0, 5.0, 50.0)
    # TRICKY: 1.6x, not more. A compressor runs at about 75-85 % of its rated current and
    # its protector trips near 1.4x rated, so about 1.7-1.9x its own running current;
    # pull-downs run high but stay under about 1.5x (physics §1).
    overload_factor: float = _limit(1.6, 1.3, 5.0)
    # During a steady run (min_run_minutes in, no defrost recovery, restart or open door)
    # the current stays within about 1.15x its running level through the day's heat.
    overload_steady_factor: float = _limit(1.35, 1.1, 5.0)
    overload_clear_factor: float = _limit(1.3, 1.0, 5.0)
    overload_persist_k: int = _limit(3, 1, 30, whole=True)
    overload_persist_n: int = _limit(4, 1, 60, whole=True)
    # Vibration: a multiple of the running-only 24 h average.
    vibration_spike_factor: float = _limit(3.0, 1.1, 50.0)
    vibration_clear_factor: float = _limit(2.0, 1.0, 50.0)
    vibration_min_history: int = _limit(60, 1, 1440, whole=True)
    vibration_persist_k: int = _limit(3, 1, 30, whole=True)
    vibration_persist_n: int = _limit(5, 1, 60, whole=True)
    # Low-side pressure loss: a share below the learned running low side.
    pressure_drop_fraction: float = _limit(0.30, 0.05, 0.95)
    # Off a steady run (pull-downs, door open): a deeper drop, for margin over pull-downs.
    pressure_pulldown_drop_fraction: float = _limit(0.40, 0.05, 0.95)
    pressure_clear_fraction: float = _limit(0.15, 0.0, 0.9)
    # Two of three: one reading (a glitch) never fires it, and a low side lost at a restart
    # is called on the run's third reading (two to confirm it runs, then two beyond).
    pressure_persist_k: int = _limit(2, 1, 30, whole=True)
    pressure_persist_n: int = _limit(3, 1, 60, whole=True)
    # Cooling loss (physics §2): coil rising while running, or warming past a normal rest.
    cooling_rise_k: float = _limit(3.0, 0.5, 30.0)
    cooling_window_minutes: float = _limit(5, 2, 60)
    cooling_margin_k: float = _limit(3.0, 0.0, 30.0)
    cooling_coil_rise_k: float = _limit(15.0, 3.0, 60.0)
    cooling_min_rise_k: float = _limit(3.0, 0.5, 30.0)
    # A rest a quarter longer than the longest of the last day's, and warmer: the thermostat
    # called and nothing started (physics §2).
    cooling_rest_factor: float = _limit(1.25, 1.0, 10.0)
    cooling_rest_margin_minutes: float = _limit(2, 1, 60)
    # A rest past every rest of the last hours with the coil this much warmer than any of
    # them let it get: the thermostat has called and nothing started.
    cooling_rest_hours: int = _limit(6, 1, 24, whole=True)
    cooling_rest_warm_k: float = _limit(0.5, 0.1, 10.0)
    cooling_clear_k: float = _limit(3.0, 0.5, 30.0)
    cooling_persist_k: int = _limit(2, 1, 30, whole=True)
    cooling_persist_n: int = _limit(3, 1, 60, whole=True)
    box_confirm_k: float = _limit(1.0, 0.0, 20.0)
    # Defrost running too long, escalating with time and evidence.
    defrost_max_minutes: float = _limit(45, 5, 240)
    defrost_usual_factor: float = _limit(1.5, 1.0, 10.0)
    defrost_high_minutes: float = _limit(90, 10, 720)
    defrost_critical_minutes: float = _limit(180, 15, 1440)
    # At most the evaporator sensor's top (domain §1.1: -60 to +30 °C).
    defrost_coil_warm_c: float = _limit(20.0, 0.0, 30.0)
    # Defrost overdue: the learned interval (this one until learned) times a factor.
    defrost_interval_hours: float = _limit(8.0, 1.5, 24.0)
    defrost_overdue_factor: float = _limit(2.0, 1.2, 10.0)
    # Door open continuously (D10).
    door_open_max_minutes: float = _limit(15, 1, 720)

    def __post_init__(self) -> None:
        """Reject non-numeric, non-finite and negative limits, and fractional counts."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"Threshold {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Threshold {f.name} must be finite and >= 0, got {value!r}")
            if f.metadata["whole"]:
                if value != int(value):
                    raise ValueError(
                        f"Threshold {f.name} must be a whole number of readings, got {value!r}"
                    )
                object.__setattr__(self, f.name, int(value))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Thresholds:
        """Build thresholds from settings, ignoring unknown keys; numeric strings are accepted."""
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ValueError(f"Threshold {key} must be a number, got {value!r}") from None
            kwargs[key] = value
        return cls(**kwargs)

    def problems(self) -> list[str]:
        """Say which relations between fields this set breaks (empty when none)."""
        found = []
        for rule in ("overload", "vibration", "pressure", "cooling"):
            k, n = getattr(self, f"{rule}_persist_k"), getattr(self, f"{rule}_persist_n")
            if k > n:
                found.append(f"{rule}_persist_k ({k}) must not exceed {rule}_persist_n ({n})")
        pairs = (
            ("overload_clear_factor", "overload_factor"),
            ("vibration_clear_factor", "vibration_spike_factor"),
            ("pressure_clear_fraction", "pressure_drop_fraction"),
        )
        for clear, trip in pairs:
            if getattr(self, clear) >= getattr(self, trip):
                found.append(
                    f"{clear} ({getattr(self, clear):g}) must be below {trip} "
                    f"({getattr(self, trip):g}): the clear level sits inside the trip level"
                )
        ordered = (
            ("overload_steady_factor", "overload_factor", "a steady run draws less"),
            ("pressure_drop_fraction", "pressure_pulldown_drop_fraction", "pull-downs vary more"),
        )
        for low, high, why in ordered:
            if getattr(self, low) > getattr(self, high):
                found.append(
                    f"{low} ({getattr(self, low):g}) must not exceed {high} "
                    f"({getattr(self, high):g}): {why}"
                )
        steps = ("defrost_max_minutes", "defrost_high_minutes", "defrost_critical_minutes")
        for low, high in zip(steps, steps[1:], strict=False):
            if getattr(self, low) > getattr(self, high):
                found.append(
                    f"{low} ({getattr(self, low):g}) must not exceed {high} "
                    f"({getattr(self, high):g}): severity only rises with duration"
                )
        return found


LIMITS: dict[str, tuple[float, float]] = {f.name: f.metadata["limits"] for f in fields(Thresholds)}
