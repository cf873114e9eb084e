"""Device health status (decision D14) from connectivity, score and open alerts."""

from fleetmon.registry.models import DropoutState, HealthStatus

CRITICAL_SCORE = 0.85
WARNING_SCORE = 0.7


def health_status(
    *, dropout_state: str, latest_score: float | None, worst_open_severity: str | None
) -> HealthStatus:
    """offline > critical > warning > healthy, as D14 orders them."""
    if dropout_state == DropoutState.FULL_DROPOUT:
        return HealthStatus.OFFLINE
    score = latest_score if latest_score is not None else 0.0
    if worst_open_severity in ("CRITICAL", "HIGH") or score > CRITICAL_SCORE:
        return HealthStatus.CRITICAL
    if (
        worst_open_severity == "MEDIUM"
        or score > WARNING_SCORE
        or dropout_state != DropoutState.HEALTHY
    ):
        return HealthStatus.WARNING
    return HealthStatus.HEALTHY
