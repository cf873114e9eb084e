"""The streaming rules (domain §4.2, D4, D10, physics §4): what each rule reads, when it can
judge a reading at all, and its trip and clear levels.

A check returns None when the reading cannot decide the rule: its sensor is silent, or the
device is in a state where the rule means nothing (a low side during a restart pull-down,
a coil during defrost). Persistence (k of the last n readings), hysteresis and firing live
in `scoring.streaming.state.evaluate`, the same for every rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from scoring.streaming.context import BASELINE_MIN, DeviceContext
from scoring.streaming.readings import (
    CURRENT_COMPRESSOR,
    DEFROST_CYCLE,
    DOOR_OPEN_CLOSE,
    PRESSURE_LOW_SIDE,
    TEMPERATURE_BOX,
    TEMPERATURE_EVAPORATOR,
    VIBRATION_COMPRESSOR,
    Point,
    Reading,
)
from scoring.streaming.thresholds import Thresholds

__all__ = ["RULES", "Firing", "RuleSpec", "Thresholds"]

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
RANK: dict[str | None, int] = {None: 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
# Box air this far over its running baseline shows a stuck defrost warming the box.
BOX_WARM_K = 3.0


class RuleSpec(NamedTuple):
    severity: Severity  # the severity it is raised at (escalating rules: the first step)
    sensor: str
    description: str


RULES: dict[str, RuleSpec] = {
    "compressor_overload": RuleSpec("CRITICAL", CURRENT_COMPRESSOR, "Compressor overload"),
    "vibration_spike": RuleSpec("CRITICAL", VIBRATION_COMPRESSOR, "Compressor vibration spike"),
    "pressure_loss_acute": RuleSpec("CRITICAL", PRESSURE_LOW_SIDE, "Low-side pressure loss"),
    "cooling_loss_total": RuleSpec("CRITICAL", TEMPERATURE_EVAPORATOR, "Total cooling loss"),
    "defrost_too_long": RuleSpec("MEDIUM", DEFROST_CYCLE, "Defrost running too long"),
    "defrost_overdue": RuleSpec("MEDIUM", DEFROST_CYCLE, "Defrost overdue"),
    "door_open_too_long": RuleSpec("HIGH", DOOR_OPEN_CLOSE, "Door open too long"),
    "sensor_spike": RuleSpec("LOW", "", "Sensor glitch: a single wild reading"),
    # Raised by alerts.site_offline from silence, not by a reading.
    "site_offline": RuleSpec("HIGH", "", "Site offline"),
}


@dataclass(frozen=True)
class Firing:
    """A rule that started firing (or rose in severity) on one reading, with its proof."""

    rule: str
    severity: Severity
    device_id: str
    at: datetime
    sensor: str
    value: float
    threshold: float
    evidence: tuple[Point, ...]
    message: str


class Check(NamedTuple):
    """One acute rule on one reading: beyond the trip level? on the safe side of the clear
    level? `limit` is the trip level and `context` what the message says about the state."""

    trip: bool
    clear: bool
    value: float
    limit: float
    context: str


# ---------------------------------------------------------------- acute rules


def overload(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Check | None:
    """Current above the backstop, or a multiple of the device's learned running current."""
    amps = r.number(CURRENT_COMPRESSOR)
    if amps is None:
        return None
    run = c.amps_run.value(now, BASELINE_MIN)
    # Pull-downs (a run's first minutes, after defrost or a power loss) draw up to about
    # 1.5x; a steady run stays near its running level (physics §1), so a binding
    # compressor shows there at a lower multiple.
    factor = min(t.overload_steady_factor, t.overload_factor)
    if not c.steady(now, t):
        factor = t.overload_factor
    limit = t.compressor_overload_amps
    # The backstop's clear level keeps the proportion of the relative ones.
    clear = limit * min(1.0, t.overload_clear_factor / t.overload_factor)
    relative = run is not None and factor * run < limit
    if relative:
        limit, clear = factor * run, min(t.overload_clear_factor, factor) * run
    trip = amps > limit
    context = ""
    if trip:
        why = f"{factor:g}x its running {run:.1f} A" if relative else "the backstop"
        context = f"{amps:.1f} A, over {limit:.1f} A ({why})"
    return Check(trip, amps < clear, amps, limit, context)


def vibration(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Check | None:
    """Vibration a multiple of the running-only 24 h average, judged while running."""
    value = r.number(VIBRATION_COMPRESSOR)
    # A resting compressor does not vibrate: nothing to judge, and nothing to average.
    if value is None or c.running is not True or c.on_now is False or c.defrost_active:
        return None
    mean, count = c.vibration.mean(now)
    if count < t.vibration_min_history or mean <= 0:
        return None
    limit = t.vibration_spike_factor * mean
    clear = min(t.vibration_clear_factor, t.vibration_spike_factor) * mean
    trip = value > limit
    context = ""
    if trip:
        context = (
            f"{value:.1f} mm/s, over {limit:.1f} mm/s ({t.vibration_spike_factor:g}x its "
            f"running 24 h average of {mean:.2f} mm/s)"
        )
    return Check(trip, value < clear, value, limit, context)


def pressure(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Check | None:
    """Low side far below the device's running low side while the compressor pumps."""
    value = r.number(PRESSURE_LOW_SIDE)
    # A resting compressor equalises and a defrost warms the coil (physics §1): neither
    # says anything about a loss. A run is confirmed by two readings; a silent current
    # sensor after that does not stop it.
    if value is None or c.running is not True or c.on_now is False or c.defrost_active:
        return None
    base = c.lp_run.value(now, BASELINE_MIN)
    if base is None:
        return None
    # Restart and post-defrost pull-downs come down 20-40 % from an equalised low side
    # that starts well above the running one: they approach it from above, so a low side
    # far under it is a loss from the run's first minute. Off a steady run (its first
    # minutes, defrost recovery, restart, door open) the limit sits deeper all the same.
    drop = t.pressure_drop_fraction
    if not c.steady(now, t):
        drop = max(drop, t.pressure_pulldown_drop_fraction)
    limit = (1 - drop) * base
    clear = (1 - min(t.pressure_clear_fraction, drop)) * base
    trip = value < limit
    context = ""
    if trip:
        context = (
            f"{value:.0f} kPa, under {limit:.0f} kPa ({1 - drop:.0%} of its running "
            f"{base:.0f} kPa) after {c.run_minutes(now):.0f} min of running"
        )
    return Check(trip, value >= clear, value, limit, context)


def cooling(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Check | None:
    """Physics §2: the coil rising over a window while running, or, with the compressor
    resting, warming past anything a normal rest of this device reaches."""
    coil = r.number(TEMPERATURE_EVAPORATOR)
    if coil is None or not c.quiet(now, t):
        return None
    base = c.coil_run.value(now, BASELINE_MIN)
    if base is None:
        return None
    excess = coil - base
    clear = c.pumping() and excess < t.cooling_clear_k
    window = t.cooling_window_minutes * 60
    if c.pumping():
        # Running but not cooling: the whole window inside a steady run, door closed.
        steady_from = (c.since or now) + t.min_run_minutes * 60
        closed = c.door_closed_since is None or c.door_closed_since <= now - window
        if steady_from > now - window or not closed:
            return Check(False, clear, excess, t.cooling_rise_k, "")
        rise = coil - min(v for ts, v in c.coil if ts >= now - window)
        trip = rise >= t.cooling_rise_k
        context = ""
        if trip:
            context = (
                f"coil up {rise:.1f} K in {t.cooling_window_minutes:g} min with the compressor "
                f"running, over {t.cooling_rise_k:g} K"
            )
        return _boxed(Check(trip, clear, rise, t.cooling_rise_k, context), c, r, now, t)
    if c.running is not False or c.on_now:
        return None  # starting or stopping: neither branch can say anything
    rest = c.rest_minutes(now)
    envelope = c.rest_envelope(now)
    # TRICKY: until the device's rests are known, no rest is "too long" (physics gives rests
    # of 3-15 min, real boxes rest longer), and only the absolute coil limit judges.
    rest_limit, far = math.inf, t.cooling_coil_rise_k
    if envelope is not None:
        longest, peak = envelope
        rest_limit = max(longest * t.cooling_rest_factor, longest + t.cooling_rest_margin_minutes)
        if longest > 0:  # a device that never rests has no off-cycle envelope of its own
            far = max(peak + t.cooling_margin_k, t.cooling_min_rise_k)
        if longest > 0 and (overdue := _restart_overdue(c, now, t, rest, excess)):
            return _boxed(Check(True, False, excess, overdue[1], overdue[0]), c, r, now, t)
    if excess >= far:
        context = (
            f"coil {coil:.1f} °C, {excess:.1f} K above its running level with the compressor "
            f"resting {rest:.0f} min: warmer than any normal rest (+{far:.1f} K)"
        )
        return _boxed(Check(True, False, excess, far, context), c, r, now, t)
    # Length alone says nothing of a rest that began in a pull-down (physics §1).
    if rest >= rest_limit and excess >= t.cooling_min_rise_k and not c.rest_disturbed(t):
        context = (
            f"coil {coil:.1f} °C, {excess:.1f} K above its running level after {rest:.0f} min "
            f"with the compressor resting: longer than any normal rest ({rest_limit:.0f} min)"
        )
        return _boxed(Check(True, False, excess, t.cooling_min_rise_k, context), c, r, now, t)
    return Check(False, False, excess, far, "")


def _restart_overdue(
    c: DeviceContext, now: float, t: Thresholds, rest: float, excess: float
) -> tuple[str, float] | None:
    """A normal rest ends when the box air reaches cut-in, with the coil just under it, so
    the coil peaks at about the same level every rest (physics §1). A rest already longer
    than any of the last hours' and a coil warmer than any of them let it get: the box
    has passed cut-in and the compressor has not started (physics §2). Return the
    message and the coil limit, or None. A rest begun in a pull-down compares with neither:
    the defrost or the outage warmed the box, and the pull-down set how long it lasts."""
    recent = c.recent_rests(now, t.cooling_rest_hours)
    if recent is None or c.rest_disturbed(t):
        return None
    longest, peak = recent
    limit = max(peak + t.cooling_rest_warm_k, t.cooling_min_rise_k)
    if rest <= longest or excess < limit:
        return None
    message = (
        f"coil {excess:.1f} K above its running level after {rest:.0f} min with the "
        f"compressor resting: longer than any rest of the last {t.cooling_rest_hours} h "
        f"({longest:.0f} min) and warmer than any of them let it get (+{peak:.1f} K)"
    )
    return message, limit


def _boxed(check: Check, c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Check:
    """Box air, where a device reports it, must agree that the box is warming."""
    box = r.number(TEMPERATURE_BOX)
    base = c.box_run.value(now, BASELINE_MIN)
    if not check.trip or box is None or base is None:
        return check
    if box - base < t.box_confirm_k:
        return check._replace(trip=False)
    return check._replace(context=f"{check.context}; box air {box - base:+.1f} K")


ACUTE = {
    "compressor_overload": (overload, "overload"),
    "vibration_spike": (vibration, "vibration"),
    "pressure_loss_acute": (pressure, "pressure"),
    "cooling_loss_total": (cooling, "cooling"),
}


# ---------------------------------------------------------------- duration rules


class Level(NamedTuple):
    """A duration rule on one reading: the severity it stands at (None: not at all)."""

    severity: Severity | None
    value: float
    limit: float
    since: float | None  # when the episode began (epoch seconds)
    message: str


def defrost_too_long(
    c: DeviceContext, r: Reading, now: float, t: Thresholds, warming: bool
) -> Level | None:
    """Escalate a defrost by how far past the device's usual length it runs, and on
    evidence that it warms the box: MEDIUM, HIGH, CRITICAL."""
    if r.flag(DEFROST_CYCLE) is None:
        return None
    started = c.defrost_started
    if not c.defrost_active or started is None:
        return Level(None, 0.0, 0.0, None, "")
    minutes = (now - started) / 60
    usual = c.usual_defrost_minutes()
    medium = t.defrost_max_minutes
    if usual is not None:
        medium = max(medium, t.defrost_usual_factor * usual)
    high = max(t.defrost_high_minutes, medium)
    critical = max(t.defrost_critical_minutes, high)
    severity: Severity | None = None
    limit = medium
    if minutes > critical or (minutes > medium and warming):
        severity, limit = "CRITICAL", critical if minutes > critical else medium
    elif minutes > high:
        severity, limit = "HIGH", high
    elif minutes > medium:
        severity = "MEDIUM"
    usual_text = f", usually {usual:.0f} min" if usual is not None else ""
    evidence = " with the coil or box warming" if warming else ""
    message = f"Defrost running for {minutes:.0f} min{usual_text}, over {limit:.0f} min{evidence}"
    return Level(severity, minutes, limit, started, message)


def defrost_warming(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> bool:
    """Evidence that a defrost heats past its termination (coil) or warms the box."""
    coil = r.number(TEMPERATURE_EVAPORATOR)
    if coil is not None and coil >= t.defrost_coil_warm_c:
        return True
    box = r.number(TEMPERATURE_BOX)
    base = c.box_run.value(now, BASELINE_MIN)
    return box is not None and base is not None and box - base >= BOX_WARM_K


def defrost_overdue(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Level | None:
    """No defrost for the device's own interval times a factor; none for a device that has
    never defrosted in its history (off-cycle or no-defrost equipment)."""
    if r.flag(DEFROST_CYCLE) is None or not c.defrost_starts:
        return None
    if c.defrost_active:
        return Level(None, 0.0, 0.0, None, "")
    last = c.defrost_starts[-1]
    learned = c.defrost_interval is not None
    interval = c.defrost_interval if learned else t.defrost_interval_hours * 3600
    hours, limit = (now - last) / 3600, t.defrost_overdue_factor * interval / 3600
    source = "its usual" if learned else "the default"
    message = (
        f"No defrost for {hours:.1f} h since the last one, over {limit:.1f} h "
        f"({t.defrost_overdue_factor:g}x {source} {interval / 3600:.1f} h interval)"
    )
    return Level("MEDIUM" if hours > limit else None, hours, limit, last, message)


def door(c: DeviceContext, r: Reading, now: float, t: Thresholds) -> Level | None:
    """D10: the door open continuously for longer than the limit."""
    if r.flag(DOOR_OPEN_CLOSE) is None:
        return None
    opened = c.door_open_since
    if opened is None:
        return Level(None, 0.0, 0.0, None, "")
    minutes, limit = (now - opened) / 60, t.door_open_max_minutes
    message = f"Door open for {minutes:.0f} min, over {limit:g} min"
    return Level("HIGH" if minutes > limit else None, minutes, limit, opened, message)
