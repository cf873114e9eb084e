"""What a threshold value would have done: replay a device's stored readings through the
streaming rules and count the alerts they would have raised.

The replay runs the very code the streaming worker runs (`scoring.streaming.evaluate` on a
`DeviceState`) and counts firings the way `alerts.streaming` stores them: while an alert of
the same rule and sensor is active, a firing is a repeat merged into it (stored suppressed,
D6), not a new alert. It assumes nobody closes an alert during the replay, which is what
the worker sees when nobody is looking; so the firings (how often the rule fired, each
episode once thanks to persistence and the clear level) are the figure to tune on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from alerts.streaming import HISTORY
from quality.selectors import device_history
from scoring.streaming import RULES, DeviceState, Reading, Thresholds, evaluate

PREVIEW_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class ReplayCount:
    alerts: int  # what would have become alerts (not suppressed)
    firings: int  # every firing, repeats and escalations included
    by_rule: dict[str, int]  # alerts per rule
    firings_by_rule: dict[str, int]


def replay_alerts(
    readings: Iterable[Reading],
    thresholds: Thresholds,
    *,
    since: datetime | None = None,
    rules: Iterable[str] | None = None,
) -> ReplayCount:
    """Count the alerts `thresholds` raise over `readings` (one device, any order).

    Readings before `since` only warm the state up (baselines need hours of running), as
    the worker's rebuild from history does; `rules` limits the count to those rules.
    """
    ordered = sorted(readings, key=lambda r: r.timestamp)
    if not ordered:
        return ReplayCount(0, 0, {}, {})
    wanted = set(rules) if rules is not None else set(RULES)
    state = DeviceState(device_id=ordered[0].device_id)
    # Dedup keys with an active alert: one raised before the window still merges what follows.
    active: set[str] = set()
    by_rule: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    for reading in ordered:
        for firing in evaluate(state, reading, thresholds):
            key = f"{firing.device_id}|{firing.rule}|{firing.sensor}"
            new = key not in active
            active.add(key)
            if firing.rule not in wanted or (since is not None and firing.at < since):
                continue
            fired[firing.rule] += 1
            if new:
                by_rule[firing.rule] += 1
    return ReplayCount(sum(by_rule.values()), sum(fired.values()), dict(by_rule), dict(fired))


def with_value(thresholds: Thresholds, parameter: str, value: float) -> Thresholds:
    """`thresholds` with one parameter replaced (ValueError when the value cannot be one)."""
    return Thresholds.from_mapping({**asdict(thresholds), parameter: value})


def device_readings(*, device_id: str, since: datetime, until: datetime) -> list[Reading]:
    """A device's clean readings in [since - warm-up day, until), as rule-engine readings."""
    rows = device_history(device_id=device_id, since=since - HISTORY, until=until)
    return [
        Reading(device_id=device_id, timestamp=r["timestamp"], values=r["values"]) for r in rows
    ]


@dataclass(frozen=True)
class Preview:
    since: datetime
    until: datetime
    readings: int  # readings in the previewed span (warm-up excluded)
    proposed: ReplayCount
    current: ReplayCount


def preview_parameter(
    *,
    device_id: str,
    current: Thresholds,
    parameter: str,
    value: float,
    rules: Iterable[str],
    now: datetime,
) -> Preview:
    """Replay the last 7 days of the device with the current and the proposed value."""
    since = now - PREVIEW_SPAN
    readings = device_readings(device_id=device_id, since=since, until=now)
    rules = list(rules)
    return Preview(
        since=since,
        until=now,
        readings=sum(1 for r in readings if r.timestamp >= since),
        proposed=replay_alerts(
            readings, with_value(current, parameter, value), since=since, rules=rules
        ),
        current=replay_alerts(readings, current, since=since, rules=rules),
    )
