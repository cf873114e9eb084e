"""Detector classes by kind: the one place that knows every model kind (no dynamic imports)."""

from __future__ import annotations

from scoring.detectors.base import Detector
from scoring.detectors.cohort import CohortIsolationForestDetector
from scoring.detectors.isolation_forest import IsolationForestDetector
from scoring.detectors.rules import RulesFallbackDetector
from scoring.detectors.statistical import StatisticalBaselineDetector
from scoring.detectors.trend import DailyBaselineDetector

DETECTORS: dict[str, type[Detector]] = {
    cls.kind: cls
    for cls in (
        IsolationForestDetector,
        StatisticalBaselineDetector,
        CohortIsolationForestDetector,
        DailyBaselineDetector,
        RulesFallbackDetector,
    )
}


class UnknownDetectorKind(LookupError):
    """No detector class is registered under this kind."""


def detector_for(kind: str) -> type[Detector]:
    """Return the detector class registered for `kind`."""
    try:
        return DETECTORS[kind]
    except KeyError:
        raise UnknownDetectorKind(
            f"no detector of kind {kind!r}; known kinds: {sorted(DETECTORS)}"
        ) from None
