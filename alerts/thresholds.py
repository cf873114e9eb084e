"""Streaming-rule thresholds: per cohort, per device, with history (domain §4.2, §11).

The effective value of a parameter for a device is the device's override, else its
cohort's, else the default of `Thresholds`. Every change is kept in `threshold_history`,
and a version counter in Redis tells the streaming workers to reload within seconds.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.models import RuleThreshold, ThresholdHistory, ThresholdScope
from fleetmon.registry.models import Cohort, Device
from fleetmon.streams import client
from scoring.streaming import LIMITS, Thresholds

logger = logging.getLogger(__name__)

VERSION_KEY = "fleetmon:thresholds:version"
PARAMETERS = {f.name: f for f in dataclasses.fields(Thresholds)}
__all__ = ["LIMITS", "PARAMETERS", "ThresholdError", "effective_thresholds", "threshold_set"]


class ThresholdError(ValueError):
    """A threshold change that is refused; the message names the field and why."""


def threshold_check(
    parameter: str, value: float, *, around: Thresholds | None = None
) -> Thresholds:
    """Return the thresholds with `parameter` set to `value`, or say why it is impossible.

    Outside its physical range, or not a whole number of readings where one is needed; and
    given `around` (the values it joins), breaking a relation with them: a clear level past
    its trip level, k above n.
    """
    if parameter not in PARAMETERS:
        raise ThresholdError(f"unknown parameter {parameter!r}; known: {', '.join(PARAMETERS)}")
    low, high = LIMITS[parameter]
    if not low <= float(value) <= high:
        raise ThresholdError(f"{parameter} must be between {low:g} and {high:g}, not {value:g}")
    base = dataclasses.asdict(around) if around is not None else {}
    try:
        proposed = Thresholds.from_mapping({**base, parameter: value})
    except ValueError as exc:
        raise ThresholdError(str(exc)) from None
    clashes = [p for p in proposed.problems() if parameter in p] if around is not None else []
    if clashes:
        raise ThresholdError("; ".join(clashes))
    return proposed


def threshold_set(
    *,
    parameter: str,
    value: float | None,
    actor: str,
    reason: str,
    device: Device | None = None,
    cohort: Cohort | None = None,
    now: datetime | None = None,
) -> ThresholdHistory:
    """Set (or with `value=None` remove) one override and record the change."""
    if parameter not in PARAMETERS:
        raise ThresholdError(f"unknown parameter {parameter!r}; known: {', '.join(PARAMETERS)}")
    if (device is None) == (cohort is None):
        raise ThresholdError("set a threshold for exactly one device or one cohort")
    if not reason or not reason.strip():
        raise ThresholdError("a reason is required")
    if value is not None:
        threshold_check(parameter, value, around=_current(device=device, cohort=cohort))
    now = now or timezone.now()
    scope = ThresholdScope.DEVICE if device is not None else ThresholdScope.COHORT
    target = {"device": device} if device is not None else {"cohort": cohort}
    with transaction.atomic():
        current = (
            RuleThreshold.objects.select_for_update()
            .filter(parameter=parameter, scope=scope, **target)
            .first()
        )
        old = current.value if current else None
        if value is None:
            if current:
                current.delete()
        elif current:
            current.value, current.updated_at, current.updated_by = float(value), now, actor
            current.save()
        else:
            RuleThreshold.objects.create(
                parameter=parameter,
                scope=scope,
                value=float(value),
                updated_at=now,
                updated_by=actor,
                **target,
            )
        entry = ThresholdHistory.objects.create(
            parameter=parameter,
            scope=scope,
            cohort_id=cohort.pk if cohort else "",
            device_id=device.pk if device else "",
            old_value=old,
            new_value=None if value is None else float(value),
            changed_by=actor,
            changed_at=now,
            reason=reason.strip(),
        )
        transaction.on_commit(_bump_version)
    return entry


def _current(*, device: Device | None, cohort: Cohort | None) -> Thresholds:
    """What the target uses now: a device its effective set, a cohort its own overrides."""
    if device is not None:
        return effective_thresholds(device_ids=[device.pk])[device.pk][0]
    values = RuleThreshold.objects.filter(scope=ThresholdScope.COHORT, cohort=cohort)
    return _lenient({row.parameter: row.value for row in values})


def _lenient(values: dict[str, float]) -> Thresholds:
    """Thresholds from stored overrides, skipping any that no longer fit the field (a range
    or a type changed since it was saved): a worker must always load a device."""
    try:
        return Thresholds.from_mapping(values)
    except ValueError:
        kept: dict[str, float] = {}
        for name, value in values.items():
            try:
                Thresholds.from_mapping({**kept, name: value})
            except ValueError:
                logger.warning("threshold %s=%r no longer valid, default used", name, value)
                continue
            kept[name] = value
        return Thresholds.from_mapping(kept)


def _bump_version() -> None:
    try:
        client().incr(VERSION_KEY)
    except Exception:  # noqa: BLE001 - the workers also reload on a timer
        logger.exception("could not tell the streaming workers about a threshold change")


def thresholds_version() -> int:
    return int(client().get(VERSION_KEY) or 0)


def effective_thresholds(*, device_ids: list[str]) -> dict[str, tuple[Thresholds, dict[str, str]]]:
    """Per device: its effective Thresholds and where each parameter comes from."""
    devices = dict(Device.objects.filter(pk__in=device_ids).values_list("pk", "cohort_id"))
    cohort_values: dict[str, dict[str, float]] = {}
    for row in RuleThreshold.objects.filter(scope="cohort", cohort_id__in=set(devices.values())):
        cohort_values.setdefault(row.cohort_id, {})[row.parameter] = row.value
    device_values: dict[str, dict[str, float]] = {}
    for row in RuleThreshold.objects.filter(scope="device", device_id__in=list(devices)):
        device_values.setdefault(row.device_id, {})[row.parameter] = row.value
    result = {}
    for device_id, cohort_id in devices.items():
        merged = {**cohort_values.get(cohort_id, {}), **device_values.get(device_id, {})}
        sources = {
            name: "device"
            if name in device_values.get(device_id, {})
            else "cohort"
            if name in cohort_values.get(cohort_id, {})
            else "default"
            for name in PARAMETERS
        }
        result[device_id] = (_lenient(merged), sources)
    return result
