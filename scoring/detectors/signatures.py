"""Fault signatures (physics §3): which operating features move, and which way, when a slow
fault develops. Django-free.

A signature names physical quantities, not features: each quantity is seen over a trailing
day and over its last 6 hours (`scoring.features.RECENT`), and counts once whichever view
shows it. Evidence is "physically consistent" when at least two quantities of one signature
have moved in their signature's direction: a low side down and a superheat up together say
"leak" far more surely than either alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.features import RECENT_HOURS


@dataclass(frozen=True)
class Signature:
    name: str
    words: str
    moves: tuple[tuple[str, int], ...]  # (quantity, +1 up / -1 down)


SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "refrigerant_leak",
        "a refrigerant leak",
        (
            ("pressure_low_running_median", -1),
            ("superheat_running_median", +1),
            ("subcooling_running_median", -1),
            ("temp_discharge_running_median", +1),
            ("duty_cycle", +1),
        ),
    ),
    Signature(
        "condenser_fouling",
        "condenser fouling or a condenser fan fault",
        (
            ("condenser_approach_running_median", +1),
            ("pressure_high_running_median", +1),
            ("temp_discharge_running_median", +1),
            ("current_compressor_running_median", +1),
            ("duty_cycle", +1),
        ),
    ),
    Signature(
        "evaporator_icing",
        "evaporator icing or lost airflow",
        (
            ("temp_evaporator_running_median", -1),
            ("pressure_low_running_median", -1),
            ("temp_suction_running_median", -1),
            ("duty_cycle", +1),
        ),
    ),
    Signature(
        "bearing_wear",
        "compressor bearing wear",
        (("vibration_compressor_running_median", +1), ("current_compressor_running_median", +1)),
    ),
    Signature(
        "door_gasket",
        "a failing door gasket",
        (("humidity_mean", +1), ("duty_cycle", +1), ("compressor_starts_per_hour", +1)),
    ),
)
BY_NAME = {s.name: s for s in SIGNATURES}


def quantity(feature: str) -> str:
    """The physical quantity a feature views: 'duty_cycle_6h' -> 'duty_cycle'."""
    suffix = f"_{RECENT_HOURS}h"
    return feature[: -len(suffix)] if feature.endswith(suffix) else feature


def _along(z: np.ndarray, names: Sequence[str], signature: Signature) -> np.ndarray:
    """Per row and quantity of the signature: how far it moved the signature's way, in
    whichever view moved furthest (rows x quantities; 0 where no feature views it)."""
    columns = [
        [i for i, name in enumerate(names) if quantity(name) == q] for q, _ in signature.moves
    ]
    out = np.zeros((z.shape[0], len(columns)))
    for j, ((_, direction), cols) in enumerate(zip(signature.moves, columns, strict=True)):
        if cols:
            out[:, j] = (z[:, cols] * direction).max(axis=1)
    return out


def consistent_mask(
    z: np.ndarray, names: Sequence[str], *, at_least: float, quantities: int = 2
) -> np.ndarray:
    """Per row of signed z: whether some signature has `quantities` or more of its
    quantities moved its way by `at_least` sigma."""
    fits = np.zeros(z.shape[0], dtype=bool)
    for signature in SIGNATURES:
        fits |= (_along(z, names, signature) >= at_least).sum(axis=1) >= quantities
    return fits


def consistent(z: Mapping[str, float], *, at_least: float, quantities: int = 2) -> Signature | None:
    """Return the signature that one row of signed z fits best (the most quantities moved
    its way by `at_least`, then the largest total), or None."""
    names = list(z)
    row = np.array([[float(z[n]) for n in names]])
    best, best_key = None, (0, 0.0)
    for signature in SIGNATURES:
        along = _along(row, names, signature)[0]
        hits = along[along >= at_least]
        key = (len(hits), float(hits.sum()))
        if len(hits) >= quantities and key > best_key:
            best, best_key = signature, key
    return best


def signature_of(contributors: Sequence[str], scores: Sequence[float]) -> Signature | None:
    """Read a signature back from an alert's signed contributor scores."""
    return consistent(dict(zip(contributors, scores, strict=False)), at_least=1e-9)
