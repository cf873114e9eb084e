"""Builders for the Detection section's tests: scorecards computed by the real scorecard
code from hand-made faults, events and alerts, stored as evaluation rows the way
monitoring.detection.services.evaluation_run stores them."""

from datetime import UTC, datetime, timedelta

from monitoring.detection.scorecard import EventCase, FaultCase, Period, RaisedAlert, scorecard
from monitoring.models import DetectionEvaluation

T0 = datetime(2026, 3, 12, tzinfo=UTC)
MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# Ten devices in two regions over two days: D0-D3 get a fault, D4-D9 stay healthy.
DEVICES = {f"D{i}": ("US-W" if i < 5 else "US-E") for i in range(10)}
PERIOD = Period(T0, T0 + 2 * DAY, DEVICES)
MODEL_VERSIONS = {
    "isolation_forest": {"model_id": "isolation_forest_v3", "version": "1.3.0", "threshold": 0.7},
    "rules_fallback": {"model_id": "rules_fallback_v1", "version": "1.0.0", "threshold": 0.5},
}
THRESHOLDS = {"compressor_overload_amps": 40.0, "door_open_max_minutes": 15}


def alert(device, at, severity, rule, source="streaming", escalated=None):
    steps = ((at, severity),) + ((escalated,) if escalated else ())
    return RaisedAlert(device, DEVICES[device], source, rule, steps)


def mixed_card() -> dict:
    """A replay that caught some faults and cried wolf on healthy devices:

    - compressor_overload on D0, CRITICAL after 3 min: caught (recall 1);
    - cooling_loss on D1, CRITICAL after 9 min: too late (recall 0, alerted but missed);
    - refrigerant_leak on D2 (LOW, MEDIUM 19 h before failure: caught) and D3 (never
      alerted): recall 0.5, lead 19 h;
    - false HIGH/CRITICAL: pressure_loss twice on D5, isolation_forest_v3 once on D6, and
      compressor_overload once on D7 during a sensor glitch.
    """
    leak_failure = T0 + 30 * HOUR
    faults = [
        FaultCase("D0", "compressor_overload", T0 + HOUR, T0 + 2 * HOUR),
        FaultCase("D1", "cooling_loss", T0 + HOUR, T0 + 3 * HOUR),
        FaultCase("D2", "refrigerant_leak", T0 + HOUR, PERIOD.end, failure_at=leak_failure),
        FaultCase("D3", "refrigerant_leak", T0 + HOUR, PERIOD.end, failure_at=leak_failure),
    ]
    events = [EventCase("sensor_glitch", T0 + 5 * HOUR, T0 + 5 * HOUR + MIN, "S2", ("D7",))]
    alerts = [
        alert("D0", T0 + HOUR + 3 * MIN, "CRITICAL", "compressor_overload"),
        alert("D1", T0 + HOUR + 9 * MIN, "CRITICAL", "evaporator_temp_rise"),
        alert(
            "D2",
            T0 + 5 * HOUR,
            "LOW",
            "isolation_forest_v3",
            "batch",
            escalated=(T0 + 11 * HOUR, "MEDIUM"),
        ),
        alert("D5", T0 + 3 * HOUR, "CRITICAL", "pressure_loss"),
        alert("D5", T0 + 20 * HOUR, "CRITICAL", "pressure_loss"),
        alert("D6", T0 + 4 * HOUR, "HIGH", "isolation_forest_v3", "batch"),
        alert("D7", T0 + 5 * HOUR + MIN, "CRITICAL", "compressor_overload"),
    ]
    return scorecard(period=PERIOD, faults=faults, events=events, alerts=alerts)


def clean_card() -> dict:
    """A replay where the one fault was caught in time and nothing else raised an alert."""
    fault = FaultCase("D0", "compressor_overload", T0 + HOUR, T0 + 2 * HOUR)
    found = alert("D0", T0 + HOUR + 2 * MIN, "CRITICAL", "compressor_overload")
    return scorecard(period=PERIOD, faults=[fault], events=[], alerts=[found])


def evaluation_store(
    card: dict | None = None,
    *,
    at: datetime,
    status: str = DetectionEvaluation.Status.SUCCEEDED,
    purpose: str = DetectionEvaluation.Purpose.SCORECARD,
    seed: int = 1,
    candidate: str = "",
    error: str = "",
) -> DetectionEvaluation:
    """Store an evaluation row as evaluation_run does: a succeeded one carries its scorecard
    and the headline figures copied out of it; a running or failed one has neither."""
    fields = {}
    if card is not None:
        summary, targets = card["summary"], card["targets"]
        fields = {
            "scorecard": card,
            "model_versions": MODEL_VERSIONS,
            "thresholds": THRESHOLDS,
            "acute_recall": summary["acute_recall_in_time"],
            "gradual_recall": summary["gradual_recall_before_failure"],
            "gradual_lead_median_h": summary["gradual_lead_median_h"],
            "healthy_high_critical_per_device_day": summary["healthy_high_critical_per_device_day"],
            "d9_share": summary["d9_high_critical_no_fault_share"],
            "targets_met": sum(1 for t in targets if t["met"]),
            "targets_measured": sum(1 for t in targets if t["met"] is not None),
        }
    return DetectionEvaluation.objects.create(
        created_at=at,
        finished_at=None if status == DetectionEvaluation.Status.RUNNING else at + 10 * MIN,
        duration_seconds=None if status == DetectionEvaluation.Status.RUNNING else 600.0,
        status=status,
        purpose=purpose,
        candidate=candidate,
        requested_by="cli",
        seed=seed,
        devices=len(DEVICES),
        history_days=10,
        test_days=2,
        error=error,
        **fields,
    )
