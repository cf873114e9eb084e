"""Plain-text tables of a scorecard, for the command line and closing notes."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def scorecard_text(card: dict[str, Any]) -> str:
    """Render a scorecard as text tables: faults, healthy devices, events, targets."""
    lines = ["Faults"]
    lines += _table(
        [
            "fault",
            "kind",
            "expected",
            "devices",
            "alerted",
            "detected",
            "recall",
            "by chance",
            "latency min (med/worst)",
            "from symptom (n in med min)",
            "lead h (med/worst)",
            "failures",
            "caught first by",
        ],
        [
            [
                r["fault_type"],
                r["kind"],
                r["expected_severity"],
                str(r["devices"]),
                str(r["alerted_any"]),
                str(r["detected"]),
                _fmt(r["recall"]),
                _fmt(r["chance_detected"]),
                f"{_fmt(r['latency_median_min'], 1)} / {_fmt(r['latency_worst_min'], 1)}",
                "-"
                if r["detected_from_symptom"] is None
                else f"{r['detected_from_symptom']} in "
                f"{_fmt(r['latency_from_symptom_median_min'], 1)}",
                f"{_fmt(r['lead_median_h'], 1)} / {_fmt(r['lead_worst_h'], 1)}",
                str(r["failures_reached"]),
                ", ".join(f"{k} {v}" for k, v in r["caught_first_by"].items()) or "-",
            ]
            for r in card["faults"]
        ],
    )
    healthy = card["healthy"]
    per_day = healthy["alerts_per_device_day"]
    lines += ["", f"Healthy devices: {healthy['devices']} ({healthy['device_days']} device-days)"]
    lines.append(
        "  alerts per device-day: " + ", ".join(f"{s} {_fmt(v, 3)}" for s, v in per_day.items())
    )
    lines.append(
        f"  HIGH/CRITICAL per device-day {_fmt(healthy['high_critical_per_device_day'], 3)}; "
        f"devices with one {healthy['devices_with_high_critical']}; "
        f"D9 share of HIGH/CRITICAL hitting no fault "
        f"{_fmt(healthy['d9_high_critical_no_fault_share'], 3)} "
        f"({healthy['high_critical_no_fault']} of {healthy['high_critical_alerts']})"
    )
    if healthy["false_alarms_by_rule"]:
        lines.append(
            "  false HIGH/CRITICAL by rule: "
            + ", ".join(f"{k} {v}" for k, v in healthy["false_alarms_by_rule"].items())
        )
    operators = card["operators"]
    lines.append(
        f"Operators: {operators['operators']}; alerts per operator-hour "
        f"{_fmt(operators['alerts_per_operator_hour'], 3)} "
        f"(peak {operators['peak_alerts_per_operator_hour']})"
    )
    lines += ["", "Harmless events"]
    lines += _table(
        [
            "event",
            "events",
            "LOW",
            "MEDIUM",
            "HIGH",
            "CRITICAL",
            "events paging",
            "by rule",
            "site incidents",
        ],
        [
            [
                r["event_type"],
                str(r["events"]),
                *(str(r["alerts_by_severity"][s]) for s in ("LOW", "MEDIUM", "HIGH", "CRITICAL")),
                str(r["events_with_high_critical"]),
                ", ".join(f"{k} {v}" for k, v in r["alerts_by_rule"].items()) or "-",
                "-" if r["site_incidents"] is None else ",".join(map(str, r["site_incidents"])),
            ]
            for r in card["events"]
        ],
    )
    lines += ["", "Targets (issue 11)"]
    lines += _table(
        ["measure", "target", "value", "met"],
        [
            [
                t["measure"],
                t["target"],
                _fmt(t["value"], 3),
                {True: "yes", False: "NO", None: "not measured"}[t["met"]],
            ]
            for t in card["targets"]
        ],
    )
    return "\n".join(lines)


def labels_text(measures: dict[str, Any]) -> str:
    """Render label_measures as text."""
    lines = [
        f"Real labels {measures['since'][:16]} .. {measures['until'][:16]}: "
        f"{measures['high_critical_alerts']} HIGH/CRITICAL alerts, "
        f"{measures['false_positive']} false positive "
        f"(share {_fmt(measures['false_positive_share'], 3)}), "
        f"{measures['resolved_with_maintenance']} resolved with maintenance "
        f"(hit rate {_fmt(measures['hit_rate'], 3)})"
    ]
    if measures["by_rule"]:
        lines += _table(
            ["rule", "alerts", "false positive", "share", "resolved with maintenance"],
            [
                [
                    r["rule"],
                    str(r["alerts"]),
                    str(r["false_positive"]),
                    _fmt(r["false_positive_share"], 3),
                    str(r["resolved_with_maintenance"]),
                ]
                for r in measures["by_rule"]
            ],
        )
    return "\n".join(lines)
