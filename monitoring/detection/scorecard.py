"""The detection scorecard: what the alerts of a replayed period caught, missed and cried wolf on.

Django-free: ground truth (faults with their onset and failure point, harmless events) and
the alerts an operator would have seen go in; a JSON-ready scorecard comes out. Measures:

- per fault type: recall at the expected severity, latency after onset (acute faults, which
  must be caught within minutes) or lead before the failure point (gradual faults, which
  must be caught before the product is at risk), and which rule or model caught it first;
- on healthy devices: alerts per device-day by severity, and the D9 figure, the share of
  HIGH/CRITICAL alerts that hit no fault at all;
- operator load: alerts per operator (one per region) per hour, mean and peak;
- what each harmless event raised, and how many site incidents each power loss opened.

An alert "hits" a fault when it is on the fault's device and raised between the onset and
`ATTRIBUTION_GRACE` after the fault ended (a repaired box still pulls down for a while).
An alert on a faulty device before the onset hits nothing: it is a false alarm.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
RANK = {name: i + 1 for i, name in enumerate(SEVERITIES)}
ATTRIBUTION_GRACE = timedelta(hours=2)
EVENT_GRACE = timedelta(hours=1)  # what a harmless event raises shortly after it ends counts
# Events that touch a whole site: the ones that may open a site-wide incident.
SITE_WIDE_EVENTS = frozenset({"site_power_loss", "hot_afternoon"})

Kind = Literal["acute", "operational", "gradual", "data"]


@dataclass(frozen=True)
class Expectation:
    """How a fault type should be alerted: the severity, and how soon (acute) or before
    the failure point (gradual and operational)."""

    kind: Kind
    severity: str
    within: timedelta | None = None  # acute only: the latest acceptable detection


# Acute: streaming rules must catch them within minutes (issue 11 targets: 5 min). A door
# left open can only be called so after D10's 15 minutes open, so its clock starts then.
# Operational: D10's defrost and door rules. Gradual: before the failure point (>= MEDIUM).
EXPECTATIONS: dict[str, Expectation] = {
    "compressor_overload": Expectation("acute", "CRITICAL", timedelta(minutes=5)),
    "low_side_loss": Expectation("acute", "CRITICAL", timedelta(minutes=5)),
    "cooling_loss": Expectation("acute", "CRITICAL", timedelta(minutes=5)),
    "door_left_open": Expectation("acute", "HIGH", timedelta(minutes=20)),
    "defrost_stuck": Expectation("operational", "MEDIUM"),
    "missed_defrost": Expectation("operational", "MEDIUM"),
    "refrigerant_leak": Expectation("gradual", "MEDIUM"),
    "condenser_fouling": Expectation("gradual", "MEDIUM"),
    "evaporator_icing": Expectation("gradual", "MEDIUM"),
    "bearing_wear": Expectation("gradual", "MEDIUM"),
    "door_gasket": Expectation("gradual", "MEDIUM"),
    "sensor_stuck": Expectation("data", "LOW"),
}
UNKNOWN = Expectation("gradual", "MEDIUM")

# Issue 11's targets, in the scorecard's own terms: (summary key, comparison, limit).
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("healthy_high_critical_per_device_day", "<=", 0.05),
    ("d9_high_critical_no_fault_share", "<=", 0.10),
    ("acute_recall_in_time", ">=", 0.95),
    # Not in the issue: the same, from each fault's first symptom (physics §2: a dead
    # compressor on a cycling box looks like a normal rest until its rest runs long).
    ("acute_recall_from_symptom", ">=", 0.95),
    ("glitch_high_critical", "<=", 0),
    ("gradual_recall_before_failure", ">=", 0.90),
    ("gradual_lead_median_h", ">=", 12.0),
    ("power_loss_outages_with_one_incident", ">=", 1.0),
)


@dataclass(frozen=True)
class FaultCase:
    """Ground truth of one injected fault."""

    device_id: str
    fault_type: str
    onset: datetime
    end: datetime
    failure_at: datetime | None = None
    # When the fault first showed in any reading: a dead compressor, an overload or a lost
    # low side cannot show while the compressor would be resting anyway (default: onset).
    symptom_at: datetime | None = None

    @property
    def shows_from(self) -> datetime:
        return self.symptom_at or self.onset

    @property
    def expectation(self) -> Expectation:
        return EXPECTATIONS.get(self.fault_type, UNKNOWN)

    def covers(self, at: datetime) -> bool:
        """Return whether an alert raised at `at` on this device is about this fault."""
        return self.onset <= at < self.end + ATTRIBUTION_GRACE


@dataclass(frozen=True)
class EventCase:
    """Ground truth of one harmless event (nothing should page anyone for it)."""

    event_type: str
    start: datetime
    end: datetime
    site_id: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class RaisedAlert:
    """An alert an operator saw: `steps` says when it reached each severity, in time order
    (the first step is its creation; later ones are escalations)."""

    device_id: str
    region: str
    source: str
    rule: str
    steps: tuple[tuple[datetime, str], ...]

    @property
    def created_at(self) -> datetime:
        return self.steps[0][0]

    @property
    def severity(self) -> str:
        return max((s for _, s in self.steps), key=RANK.__getitem__)

    def reached(self, severity: str) -> datetime | None:
        """Return when the alert first stood at `severity` or above, or None."""
        return next((at for at, s in self.steps if RANK[s] >= RANK[severity]), None)


@dataclass(frozen=True)
class SiteIncident:
    """A site-wide incident (a site gone silent, or a storm of CRITICAL alerts)."""

    site_id: str
    kind: str
    opened_at: datetime


@dataclass(frozen=True)
class Period:
    """The replayed test period and the fleet in it (device id -> region)."""

    start: datetime
    end: datetime
    devices: dict[str, str] = field(hash=False)

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    @property
    def hours(self) -> int:
        return max(1, round((self.end - self.start) / timedelta(hours=1)))


def scorecard(
    *,
    period: Period,
    faults: Sequence[FaultCase],
    events: Sequence[EventCase],
    alerts: Sequence[RaisedAlert],
    incidents: Sequence[SiteIncident] = (),
) -> dict[str, Any]:
    """Score the alerts of a period against its ground truth; return a JSON-ready dict."""
    alerts = [a for a in alerts if period.start <= a.created_at < period.end]
    by_device: dict[str, list[RaisedAlert]] = defaultdict(list)
    for alert in alerts:
        by_device[alert.device_id].append(alert)
    catches = [catch(f, by_device.get(f.device_id, ())) for f in faults]
    noise = _noise_rates(period, faults, alerts)
    card = {
        "faults": _fault_rows(catches, noise, period.end),
        "healthy": _healthy(period, faults, alerts),
        "operators": _operator_load(period, alerts),
        "events": _event_rows(events, faults, by_device, incidents),
    }
    card["summary"] = _summary(card, catches)
    card["targets"] = targets_met(card["summary"])
    return card


# ---------------------------------------------------------------- faults


@dataclass
class _Catch:
    """How one fault was caught: when at any severity, when at the expected one, by what."""

    fault: FaultCase
    first_any: datetime | None = None
    detected_at: datetime | None = None
    caught_by: str | None = None

    @property
    def in_time(self) -> bool:
        """Return whether the expected alert came soon enough to count."""
        if self.detected_at is None:
            return False
        expectation = self.fault.expectation
        if expectation.kind == "acute":
            assert expectation.within is not None
            return self.detected_at - self.fault.onset <= expectation.within
        failure = self.fault.failure_at
        return failure is None or self.detected_at < failure

    @property
    def lead_h(self) -> float | None:
        """Hours between detection and the failure point (gradual and operational)."""
        if self.detected_at is None or self.fault.failure_at is None:
            return None
        return (self.fault.failure_at - self.detected_at) / timedelta(hours=1)

    @property
    def latency_min(self) -> float | None:
        if self.detected_at is None:
            return None
        return (self.detected_at - self.fault.onset) / timedelta(minutes=1)

    @property
    def latency_from_symptom_min(self) -> float | None:
        if self.detected_at is None:
            return None
        return (self.detected_at - self.fault.shows_from) / timedelta(minutes=1)

    @property
    def in_time_from_symptom(self) -> bool:
        """Acute only: caught within its allowance of the first symptom."""
        within = self.fault.expectation.within
        late = self.latency_from_symptom_min
        return within is not None and late is not None and late <= within / timedelta(minutes=1)


def catch(fault: FaultCase, alerts: Iterable[RaisedAlert]) -> _Catch:
    """Find how the device's alerts caught one fault."""
    result = _Catch(fault)
    severity = fault.expectation.severity
    for alert in alerts:
        if not fault.covers(alert.created_at):
            continue
        if result.first_any is None or alert.created_at < result.first_any:
            result.first_any = alert.created_at
        reached = alert.reached(severity)
        if reached is not None and (result.detected_at is None or reached < result.detected_at):
            result.detected_at, result.caught_by = reached, f"{alert.source}:{alert.rule}"
    return result


def _noise_rates(
    period: Period, faults: Sequence[FaultCase], alerts: Sequence[RaisedAlert]
) -> dict[str, float]:
    """Alerts per healthy device-day at each severity or above: how often a detector this
    noisy "detects" a fault by chance."""
    faulty = {f.device_id for f in faults}
    device_days = sum(1 for d in period.devices if d not in faulty) * period.days
    on_healthy = [a for a in alerts if a.device_id not in faulty]
    return {
        s: (sum(1 for a in on_healthy if RANK[a.severity] >= RANK[s]) / device_days)
        if device_days
        else 0.0
        for s in SEVERITIES
    }


def _chance(c: _Catch, noise: dict[str, float], period_end: datetime) -> float:
    """The probability that an alert this noisy lands in the fault's window by chance."""
    expectation = c.fault.expectation
    if expectation.kind == "acute":
        window = expectation.within or timedelta(0)
    else:
        until = c.fault.failure_at or min(c.fault.end + ATTRIBUTION_GRACE, period_end)
        window = max(until - c.fault.onset, timedelta(0))
    return 1.0 - math.exp(-noise[expectation.severity] * (window / timedelta(days=1)))


def _fault_rows(
    catches: Sequence[_Catch], noise: dict[str, float], period_end: datetime
) -> list[dict[str, Any]]:
    by_type: dict[str, list[_Catch]] = defaultdict(list)
    for c in catches:
        by_type[c.fault.fault_type].append(c)
    rows = []
    for fault_type in sorted(by_type, key=_fault_order):
        group = by_type[fault_type]
        expectation = group[0].fault.expectation
        in_time = [c for c in group if c.in_time]
        latencies = [c.latency_min for c in in_time if c.latency_min is not None]
        from_symptom = [c for c in group if c.in_time_from_symptom]
        leads = [c.lead_h for c in in_time if c.lead_h is not None]
        first_by = Counter(c.caught_by for c in in_time if c.caught_by)
        rows.append(
            {
                "fault_type": fault_type,
                "kind": expectation.kind,
                "expected_severity": expectation.severity,
                "devices": len(group),
                "alerted_any": sum(1 for c in group if c.first_any is not None),
                # At the expected severity at some point, in time or not.
                "at_severity": sum(1 for c in group if c.detected_at is not None),
                "detected": len(in_time),
                "recall": _share(len(in_time), len(group)),
                # What a detector as noisy on healthy devices would have "caught" anyway.
                "chance_detected": round(sum(_chance(c, noise, period_end) for c in group), 2),
                "failures_reached": sum(1 for c in group if c.fault.failure_at is not None),
                "latency_median_min": _median(latencies),
                "latency_worst_min": max(latencies, default=None),
                # Acute faults judged from their first symptom instead of their onset.
                "detected_from_symptom": len(from_symptom) if expectation.within else None,
                "latency_from_symptom_median_min": _median(
                    [c.latency_from_symptom_min for c in from_symptom]
                ),
                "lead_median_h": _median(leads),
                "lead_worst_h": min(leads, default=None),
                "caught_first_by": dict(first_by.most_common()),
                "missed": [c.fault.device_id for c in group if not c.in_time],
            }
        )
    return rows


def _fault_order(fault_type: str) -> tuple[int, str]:
    kinds = ("acute", "operational", "gradual", "data")
    return kinds.index(EXPECTATIONS.get(fault_type, UNKNOWN).kind), fault_type


# ---------------------------------------------------------------- false alarms


def _about_a_fault(alert: RaisedAlert, faults_of: dict[str, list[FaultCase]]) -> bool:
    return any(f.covers(alert.created_at) for f in faults_of.get(alert.device_id, ()))


def _healthy(period: Period, faults: Sequence[FaultCase], alerts: Sequence[RaisedAlert]) -> dict:
    """False alarms: alerts on devices without a fault, and the D9 share over every alert."""
    faulty = {f.device_id for f in faults}
    healthy = [d for d in period.devices if d not in faulty]
    device_days = len(healthy) * period.days
    on_healthy = [a for a in alerts if a.device_id not in faulty]
    counts = Counter(a.severity for a in on_healthy)
    high = [a for a in on_healthy if RANK[a.severity] >= RANK["HIGH"]]
    faults_of: dict[str, list[FaultCase]] = defaultdict(list)
    for fault in faults:
        faults_of[fault.device_id].append(fault)
    high_critical = [a for a in alerts if RANK[a.severity] >= RANK["HIGH"]]
    no_fault = [a for a in high_critical if not _about_a_fault(a, faults_of)]
    return {
        "devices": len(healthy),
        "device_days": round(device_days, 3),
        "alerts_per_device_day": {s: _rate(counts[s], device_days) for s in SEVERITIES},
        "high_critical_per_device_day": _rate(len(high), device_days),
        "devices_with_high_critical": len({a.device_id for a in high}),
        "high_critical_alerts": len(high_critical),
        "high_critical_no_fault": len(no_fault),
        "d9_high_critical_no_fault_share": _share(len(no_fault), len(high_critical)),
        "false_alarms_by_rule": dict(Counter(f"{a.source}:{a.rule}" for a in no_fault)),
    }


def _operator_load(period: Period, alerts: Sequence[RaisedAlert]) -> dict:
    """Alerts per operator per hour; each region is one operator's scope."""
    regions = sorted(set(period.devices.values()))
    per_hour = Counter(
        (a.region, int((a.created_at - period.start) / timedelta(hours=1))) for a in alerts
    )
    slots = len(regions) * period.hours
    return {
        "operators": len(regions),
        "alerts_per_operator_hour": _rate(len(alerts), slots),
        "peak_alerts_per_operator_hour": max(per_hour.values(), default=0),
    }


# ---------------------------------------------------------------- harmless events


def _event_rows(events, faults, by_device, incidents) -> list[dict[str, Any]]:
    faults_of: dict[str, list[FaultCase]] = defaultdict(list)
    for fault in faults:
        faults_of[fault.device_id].append(fault)
    grouped: dict[str, list[EventCase]] = defaultdict(list)
    for event in events:
        grouped[event.event_type].append(event)
    rows = []
    for event_type in sorted(grouped):
        raised: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        paging = 0
        site_wide = event_type in SITE_WIDE_EVENTS
        site_incidents = []
        for event in grouped[event_type]:
            found = [
                a
                for device in event.device_ids
                for a in by_device.get(device, ())
                if event.start <= a.created_at < event.end + EVENT_GRACE
                and not _about_a_fault(a, faults_of)
            ]
            raised.update(a.severity for a in found)
            rules.update(f"{a.source}:{a.rule}" for a in found)
            paging += any(RANK[a.severity] >= RANK["HIGH"] for a in found)
            if site_wide:
                site_incidents.append(
                    sum(
                        1
                        for i in incidents
                        if i.site_id == event.site_id
                        and event.start <= i.opened_at < event.end + EVENT_GRACE
                    )
                )
        rows.append(
            {
                "event_type": event_type,
                "events": len(grouped[event_type]),
                "alerts_by_severity": {s: raised[s] for s in SEVERITIES},
                "events_with_high_critical": paging,
                "alerts_by_rule": dict(rules.most_common()),
                "site_incidents": site_incidents if site_wide else None,
            }
        )
    return rows


# ---------------------------------------------------------------- summary and targets


def _summary(card: dict, catches: Sequence[_Catch]) -> dict[str, Any]:
    def recall(kind: str) -> float | None:
        chosen = [c for c in catches if c.fault.expectation.kind == kind]
        return _share(sum(c.in_time for c in chosen), len(chosen))

    # Over every gradual fault caught before its failure point, not a median of medians.
    leads = [
        c.lead_h
        for c in catches
        if c.fault.expectation.kind == "gradual" and c.in_time and c.lead_h is not None
    ]
    events = {r["event_type"]: r for r in card["events"]}
    glitches = events.get("sensor_glitch")
    outages = events.get("site_power_loss")
    healthy = card["healthy"]
    return {
        "faults": len(catches),
        "acute_recall_in_time": recall("acute"),
        "acute_recall_from_symptom": _share(
            sum(c.in_time_from_symptom for c in catches if c.fault.expectation.kind == "acute"),
            sum(1 for c in catches if c.fault.expectation.kind == "acute"),
        ),
        "operational_recall": recall("operational"),
        "gradual_recall_before_failure": recall("gradual"),
        "gradual_lead_median_h": _median(leads),
        "healthy_high_critical_per_device_day": healthy["high_critical_per_device_day"],
        "d9_high_critical_no_fault_share": healthy["d9_high_critical_no_fault_share"],
        "alerts_per_operator_hour": card["operators"]["alerts_per_operator_hour"],
        "glitch_high_critical": (
            glitches["alerts_by_severity"]["HIGH"] + glitches["alerts_by_severity"]["CRITICAL"]
            if glitches
            else None
        ),
        "power_loss_outages_with_one_incident": (
            _share(sum(n == 1 for n in outages["site_incidents"]), outages["events"])
            if outages
            else None
        ),
    }


def targets_met(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Compare the summary with issue 11's targets; a figure that cannot be measured
    (no such fault or event in the period) is reported as not measured."""
    checks = {"<=": lambda v, lim: v <= lim, ">=": lambda v, lim: v >= lim}
    out = []
    for key, op, limit in TARGETS:
        value = summary.get(key)
        met = None if value is None else bool(checks[op](value, limit))
        out.append({"measure": key, "target": f"{op} {limit:g}", "value": value, "met": met})
    return out


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rate(count: int, per: float) -> float | None:
    return round(count / per, 4) if per else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None
