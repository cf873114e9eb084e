"""The threshold editor's reads and writes over `alerts.thresholds`: each parameter with its
effective value and where it comes from, validation of a proposed value, the change history
of a device and its cohort, and revert.

`alerts.thresholds.threshold_set` stays the one writer (history row, Redis version bump);
this module adds what an editor needs around it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Q

from alerts.models import RuleThreshold, ThresholdHistory, ThresholdScope
from alerts.thresholds import LIMITS, ThresholdError, effective_thresholds, threshold_set
from fleetmon.registry.models import Cohort, Device
from scoring.streaming.rules import Thresholds


@dataclass(frozen=True)
class ParameterInfo:
    label: str
    unit: str
    rules: tuple[str, ...]  # the streaming rules that read it


CATALOGUE: dict[str, ParameterInfo] = {
    "compressor_overload_amps": ParameterInfo(
        "Compressor overload current", "A", ("compressor_overload",)
    ),
    "vibration_spike_factor": ParameterInfo(
        "Vibration spike, times the 24 h average", "×", ("vibration_spike",)
    ),
    "vibration_min_history": ParameterInfo(
        "Vibration readings needed before judging", "readings", ("vibration_spike",)
    ),
    "pressure_drop_fraction": ParameterInfo(
        "Low-side pressure drop (share of the peak)", "fraction", ("pressure_loss_acute",)
    ),
    "pressure_drop_window_min": ParameterInfo(
        "Pressure drop window", "min", ("pressure_loss_acute",)
    ),
    "evap_rise_c_per_min": ParameterInfo("Evaporator rise rate", "°C/min", ("cooling_loss_total",)),
    "evap_rise_minutes": ParameterInfo(
        "Evaporator rise sustained for", "min", ("cooling_loss_total",)
    ),
    "post_defrost_minutes": ParameterInfo(
        "Temperature rules paused after a defrost", "min", ("cooling_loss_total",)
    ),
    "defrost_max_minutes": ParameterInfo("Longest normal defrost", "min", ("defrost_too_long",)),
    "defrost_interval_hours": ParameterInfo(
        "Defrost interval (overdue at twice this)", "h", ("defrost_overdue",)
    ),
    "door_open_max_minutes": ParameterInfo("Door open at most", "min", ("door_open_too_long",)),
}
DEFAULTS = asdict(Thresholds())


class UnknownParameter(LookupError):
    """The parameter is not a streaming-rule threshold."""


def parameter_info(parameter: str) -> ParameterInfo:
    try:
        return CATALOGUE[parameter]
    except KeyError:
        raise UnknownParameter(f"unknown parameter {parameter!r}") from None


def validate_value(parameter: str, value: float) -> float:
    """Return the value as the rules will use it; ThresholdError says why one is impossible."""
    parameter_info(parameter)
    low, high = LIMITS[parameter]
    if not low <= value <= high:
        raise ThresholdError(f"{parameter} must be between {low:g} and {high:g}, not {value:g}")
    try:
        # What threshold_set does not check but the rules do (e.g. whole readings): refuse it
        # here, or every streaming worker would fail to load the device's thresholds.
        Thresholds.from_mapping({parameter: value})
    except ValueError as exc:
        raise ThresholdError(str(exc)) from None
    return float(value)


@dataclass(frozen=True)
class ParameterRow:
    parameter: str
    label: str
    unit: str
    rules: tuple[str, ...]
    min: float
    max: float
    effective: float
    source: str  # device | cohort | default
    device_value: float | None
    cohort_value: float | None
    default: float


def overrides(device: Device) -> tuple[dict[str, float], dict[str, float]]:
    """(device overrides, cohort overrides) by parameter."""
    rows = RuleThreshold.objects.filter(
        Q(scope=ThresholdScope.DEVICE, device=device)
        | Q(scope=ThresholdScope.COHORT, cohort_id=device.cohort_id)
    ).values_list("scope", "parameter", "value")
    own = {p: v for scope, p, v in rows if scope == ThresholdScope.DEVICE}
    cohort = {p: v for scope, p, v in rows if scope == ThresholdScope.COHORT}
    return own, cohort


def effective_for(device: Device) -> tuple[Thresholds, dict[str, str]]:
    """The device's effective thresholds and the source of each, as the worker loads them."""
    return effective_thresholds(device_ids=[device.pk])[device.pk]


def parameter_rows(device: Device) -> list[ParameterRow]:
    """Every streaming-rule parameter of a device: effective value, source and overrides."""
    own, cohort = overrides(device)
    effective, sources = effective_for(device)
    return [
        ParameterRow(
            parameter=name,
            label=info.label,
            unit=info.unit,
            rules=info.rules,
            min=LIMITS[name][0],
            max=LIMITS[name][1],
            effective=float(getattr(effective, name)),
            source=sources[name],
            device_value=own.get(name),
            cohort_value=cohort.get(name),
            default=float(DEFAULTS[name]),
        )
        for name, info in CATALOGUE.items()
    ]


def history_for(device: Device):
    """Threshold changes of the device and of its cohort, newest first."""
    return ThresholdHistory.objects.filter(
        Q(scope=ThresholdScope.DEVICE, device_id=device.pk)
        | Q(scope=ThresholdScope.COHORT, cohort_id=device.cohort_id)
    )


def threshold_revert(
    *, entry: ThresholdHistory, actor: str, reason: str = "", now: datetime | None = None
) -> ThresholdHistory:
    """Put the value back to what it was before `entry` (None: remove the override).

    The revert is a change like any other: a new history row, naming the change it undoes.
    """
    why = f"Revert of change #{entry.pk}" + (f": {reason.strip()}" if reason.strip() else "")
    if entry.scope == ThresholdScope.DEVICE:
        target = {"device": Device.objects.get(pk=entry.device_id)}
    else:
        target = {"cohort": Cohort.objects.get(pk=entry.cohort_id)}
    return threshold_set(
        parameter=entry.parameter, value=entry.old_value, actor=actor, reason=why, now=now, **target
    )


def format_value(value: float | None) -> str:
    """A threshold as people write it: 40, 0.3, 2.5 (no trailing zeros); '' for none."""
    return "" if value is None else f"{value:g}"
