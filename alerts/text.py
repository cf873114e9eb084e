"""Words for alerts: titles and descriptions that name the contributing sensors. Django-free."""

from alerts.severity import SLA
from scoring.detectors.signatures import Signature

SENSOR_WORDS = {
    "temp_evaporator": "Evaporator temperature",
    "temp_condenser": "Condenser temperature",
    "temp_ambient": "Ambient temperature",
    "temp_discharge": "Discharge temperature",
    "temp_suction": "Suction temperature",
    "pressure_high": "High-side pressure",
    "pressure_low": "Low-side pressure",
    "pressure_ratio": "Pressure ratio",
    "current_compressor": "Compressor current",
    "current_per_temp_spread": "Compressor current per temperature spread",
    "vibration_compressor": "Compressor vibration",
    "humidity": "Humidity",
    "door_open_fraction": "Door opening",
    "defrost_active_fraction": "Defrost",
    "superheat": "Superheat",
    "subcooling": "Subcooling",
    "temp_spread_evap_cond": "Evaporator-condenser spread",
    "temp_spread_discharge_suction": "Discharge-suction spread",
    "sensor_completeness": "Sensor completeness",
    "quality_flag_count": "Data quality",
    "condenser_approach": "Condenser approach",
    "duty_cycle": "Compressor run time",
    "compressor_starts": "Compressor starts",
}


def feature_words(feature: str) -> str:
    """'vibration_compressor_max' -> 'Compressor vibration'."""
    for prefix in sorted(SENSOR_WORDS, key=len, reverse=True):
        if feature.startswith(prefix):
            return SENSOR_WORDS[prefix]
    return feature.replace("_", " ").capitalize()


def alert_title(
    *, device_id: str, contributors: list[str], source: str, signature: Signature | None = None
) -> str:
    if signature is not None:
        return f"Signs of {signature.words} on device {device_id}"
    what = feature_words(contributors[0]) if contributors else "Equipment"
    verb = "flagged by fallback rules" if source == "fallback" else "anomaly detected"
    return f"{what} {verb} on device {device_id}"


def alert_description(
    *,
    severity: str,
    scores: dict[str, float],
    contributors: list[str],
    contributor_scores: list[float],
    trend: str | None,
    signature: Signature | None = None,
) -> str:
    """Which sensors, which models, the trend, and how soon to act."""
    lines = []
    if signature is not None:
        moved = ", ".join(
            f"{feature_words(q).lower()} {'up' if d > 0 else 'down'}" for q, d in signature.moves
        )
        lines.append(f"Consistent with {signature.words} ({moved}).")
    if contributors:
        named = ", ".join(
            f"{feature_words(c).lower()} ({c} {s:.1f})"
            for c, s in zip(contributors, contributor_scores, strict=False)
        )
        lines.append(f"Contributing sensors: {named}.")
    if scores:
        models = ", ".join(f"{m} {s:.2f}" for m, s in sorted(scores.items(), key=lambda i: -i[1]))
        lines.append(f"Models flagging: {models}.")
    if trend:
        lines.append(f"Anomaly score trend over 24 h: {trend}.")
    minutes = int(SLA[severity].total_seconds() // 60)
    due = f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"
    lines.append(f"{severity.capitalize()} severity: acknowledge within {due}.")
    return " ".join(lines)
