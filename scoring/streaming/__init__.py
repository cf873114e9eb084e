"""Streaming threshold rules on raw readings (domain §4.2, D4, D10); Django-free.

`evaluate(state, reading, thresholds)` updates one device's `DeviceState` and returns the
rules that started firing on that reading. Rebuild a state after a restart with
`DeviceState.from_history` over the device's last 24 h, or cache it with `to_dict`.
"""

from scoring.streaming.rules import RULES, Firing, RuleSpec, Thresholds, evaluate
from scoring.streaming.state import DeviceState, Reading

__all__ = [
    "RULES",
    "DeviceState",
    "Firing",
    "Reading",
    "RuleSpec",
    "Thresholds",
    "evaluate",
]
