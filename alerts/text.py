"""Words for alerts: titles and descriptions that name the contributing sensors. Django-free."""

from alerts.severity import SLA

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
}


def feature_words(feature: str) -> str:
    """'vibration_compressor_max' -> 'Compressor vibration'."""
    for prefix in sorted(SENSOR_WORDS, key=len, reverse=True):
        if feature.startswith(prefix):
            return SENSOR_WORDS[prefix]
    return feature.replace("_", " ").capitalize()


def alert_title(*, device_id: str, contributors: list[str], source: str) -> str:
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
) -> str:
    """Which sensors, which models, the trend, and how soon to act."""
    lines = []
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
