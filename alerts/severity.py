"""Severity of batch scores (decision D3) and SLA deadlines (contract C6). Django-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# C6: the acknowledgement deadline after `alert_created_at`, by severity.
SLA = {
    "CRITICAL": timedelta(minutes=30),
    "HIGH": timedelta(hours=2),
    "MEDIUM": timedelta(hours=4),
    "LOW": timedelta(hours=24),
}
RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


@dataclass(frozen=True)
class Cutoffs:
    """D3 cut-offs; settings, overridable per cohort (FLEETMON_SEVERITY_CUTOFFS)."""

    critical: float = 0.95
    high: float = 0.85
    medium: float = 0.7
    agreeing_models: int = 2

    @classmethod
    def from_dict(cls, values: dict) -> Cutoffs:
        return cls(
            **{
                k: values[k]
                for k in ("critical", "high", "medium", "agreeing_models")
                if k in values
            }
        )


def batch_severity(
    *, max_score: float, models_flagging: int, previous_max_score: float | None, cutoffs: Cutoffs
) -> str:
    """D3 for one (device, window) over the flagged scores of production models.

    CRITICAL above the critical cut-off; HIGH above the high cut-off when enough models
    agree or the previous window was also above it; MEDIUM above the medium cut-off or
    when enough models agree; otherwise LOW.
    """
    if max_score > cutoffs.critical:
        return "CRITICAL"
    agree = models_flagging >= cutoffs.agreeing_models
    sustained = previous_max_score is not None and previous_max_score > cutoffs.high
    if max_score > cutoffs.high and (agree or sustained):
        return "HIGH"
    if max_score > cutoffs.medium or agree:
        return "MEDIUM"
    return "LOW"
