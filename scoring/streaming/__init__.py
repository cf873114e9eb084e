"""Streaming rules on raw readings (domain §4.2, D4, D10, physics §4); Django-free.

`evaluate(state, reading, thresholds)` updates one device's `DeviceState` and returns the
rules that fired or escalated on that reading. Rebuild a state after a restart with
`DeviceState.from_history` over the device's last 24 h, or cache it with `to_dict`.

Modules, lowest first: readings (what a reading is), thresholds (the limits), windows
(bounded baselines and k-of-n windows), context (what the device is doing), rules (when
each rule can judge a reading, and its levels), state (the per-device state and the loop).
"""

from scoring.streaming.readings import Reading
from scoring.streaming.rules import RULES, Firing, RuleSpec
from scoring.streaming.state import STATE_VERSION, DeviceState, evaluate
from scoring.streaming.thresholds import LIMITS, Thresholds

__all__ = [
    "LIMITS",
    "RULES",
    "STATE_VERSION",
    "DeviceState",
    "Firing",
    "Reading",
    "RuleSpec",
    "Thresholds",
    "evaluate",
]
