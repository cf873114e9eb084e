"""Anomaly detectors behind one interface (Django-free); see `base.Detector`."""

from scoring.detectors.base import (
    FORMAT_VERSION,
    ArtifactFormatError,
    Detector,
    DetectorResult,
    InvalidScoreError,
    NotFittedError,
    artifact_header,
)
from scoring.detectors.registry import DETECTORS, UnknownDetectorKind, detector_for

__all__ = [
    "DETECTORS",
    "FORMAT_VERSION",
    "ArtifactFormatError",
    "Detector",
    "DetectorResult",
    "InvalidScoreError",
    "NotFittedError",
    "UnknownDetectorKind",
    "artifact_header",
    "detector_for",
]
