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
from alerts.thresholds import (
    LIMITS,
    effective_thresholds,
    threshold_check,
    threshold_set,
)
from fleetmon.registry.models import Cohort, Device
from scoring.streaming import Thresholds


@dataclass(frozen=True)
class ParameterInfo:
    label: str
    unit: str
    rules: tuple[str, ...]  # the streaming rules that read it


OVERLOAD = ("compressor_overload",)
VIBRATION = ("vibration_spike",)
PRESSURE = ("pressure_loss_acute",)
COOLING = ("cooling_loss_total",)
STATEFUL = ("compressor_overload", "pressure_loss_acute", "cooling_loss_total")
# In the order the editor lists them: device state first, then rule by rule.
CATALOGUE: dict[str, ParameterInfo] = {
    "min_run_minutes": ParameterInfo("Compressor running at least (a steady run)", "min", STATEFUL),
    "post_defrost_minutes": ParameterInfo("Rules paused after a defrost", "min", STATEFUL),
    "gap_minutes": ParameterInfo("Silence that counts as a restart", "min", STATEFUL),
    "restart_minutes": ParameterInfo("Rules paused after a restart", "min", STATEFUL),
    "compressor_overload_amps": ParameterInfo(
        "Compressor overload current (backstop)", "A", OVERLOAD
    ),
    "overload_factor": ParameterInfo("Overload at, times the running current", "×", OVERLOAD),
    "overload_steady_factor": ParameterInfo(
        "Overload in a steady run at, times the running current", "×", OVERLOAD
    ),
    "overload_clear_factor": ParameterInfo(
        "Overload clears below, times the running current", "×", OVERLOAD
    ),
    "overload_persist_k": ParameterInfo(
        "Overload: readings beyond the limit (k)", "readings", OVERLOAD
    ),
    "overload_persist_n": ParameterInfo("Overload: out of the last (n)", "readings", OVERLOAD),
    "vibration_spike_factor": ParameterInfo(
        "Vibration spike, times the running 24 h average", "×", VIBRATION
    ),
    "vibration_clear_factor": ParameterInfo(
        "Vibration clears below, times the running average", "×", VIBRATION
    ),
    "vibration_min_history": ParameterInfo(
        "Running vibration readings needed before judging", "readings", VIBRATION
    ),
    "vibration_persist_k": ParameterInfo(
        "Vibration: readings beyond the limit (k)", "readings", VIBRATION
    ),
    "vibration_persist_n": ParameterInfo("Vibration: out of the last (n)", "readings", VIBRATION),
    "pressure_drop_fraction": ParameterInfo(
        "Low-side loss: share below its running low side", "fraction", PRESSURE
    ),
    "pressure_pulldown_drop_fraction": ParameterInfo(
        "Low-side loss off a steady run (pull-downs): share below its running low side",
        "fraction",
        PRESSURE,
    ),
    "pressure_clear_fraction": ParameterInfo(
        "Low-side loss clears within this share of its running low side", "fraction", PRESSURE
    ),
    "pressure_persist_k": ParameterInfo(
        "Low side: readings beyond the limit (k)", "readings", PRESSURE
    ),
    "pressure_persist_n": ParameterInfo("Low side: out of the last (n)", "readings", PRESSURE),
    "cooling_rise_k": ParameterInfo("Coil rise while the compressor runs", "K", COOLING),
    "cooling_window_minutes": ParameterInfo("Coil rise measured over", "min", COOLING),
    "cooling_margin_k": ParameterInfo("Coil above its warmest normal rest by", "K", COOLING),
    "cooling_coil_rise_k": ParameterInfo(
        "Coil above its running level, until its rests are known", "K", COOLING
    ),
    "cooling_min_rise_k": ParameterInfo("Coil above its running level at least", "K", COOLING),
    "cooling_rest_factor": ParameterInfo(
        "Rest longer than its longest normal rest, times", "×", COOLING
    ),
    "cooling_rest_margin_minutes": ParameterInfo(
        "Rest longer than its longest normal rest, by at least", "min", COOLING
    ),
    "cooling_rest_hours": ParameterInfo(
        "Rest past every rest of the last hours, and its coil warmer", "h", COOLING
    ),
    "cooling_rest_warm_k": ParameterInfo("...than any of them let it get, by", "K", COOLING),
    "cooling_clear_k": ParameterInfo(
        "Cooling loss clears with the coil back within, of its running level", "K", COOLING
    ),
    "cooling_persist_k": ParameterInfo(
        "Cooling loss: readings beyond the limit (k)", "readings", COOLING
    ),
    "cooling_persist_n": ParameterInfo("Cooling loss: out of the last (n)", "readings", COOLING),
    "box_confirm_k": ParameterInfo(
        "Box air above its running level, to confirm (where reported)", "K", COOLING
    ),
    "defrost_max_minutes": ParameterInfo(
        "Longest normal defrost: MEDIUM past it", "min", ("defrost_too_long",)
    ),
    "defrost_usual_factor": ParameterInfo(
        "...or past its usual length times", "×", ("defrost_too_long",)
    ),
    "defrost_high_minutes": ParameterInfo("Defrost HIGH after", "min", ("defrost_too_long",)),
    "defrost_critical_minutes": ParameterInfo(
        "Defrost CRITICAL after", "min", ("defrost_too_long",)
    ),
    "defrost_coil_warm_c": ParameterInfo(
        "Coil this warm in an over-long defrost: CRITICAL", "°C", ("defrost_too_long",)
    ),
    "defrost_interval_hours": ParameterInfo(
        "Defrost interval until the device's own is learned", "h", ("defrost_overdue",)
    ),
    "defrost_overdue_factor": ParameterInfo(
        "Defrost overdue at its interval times", "×", ("defrost_overdue",)
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


def validate_value(parameter: str, value: float, around: Thresholds | None = None) -> float:
    """Return the value as the rules will use it; ThresholdError says why one is impossible
    (out of its physical range, or at odds with the other values of `around`)."""
    parameter_info(parameter)
    threshold_check(parameter, value, around=around)
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
