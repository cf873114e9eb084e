"""The scorecard's arithmetic on hand-made cases: known alerts on known faults, alerts on
healthy devices, alerts before an onset, harmless events and site incidents."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.detection.scorecard import (
    EventCase,
    FaultCase,
    Period,
    RaisedAlert,
    SiteIncident,
    scorecard,
)

T0 = datetime(2026, 3, 12, tzinfo=UTC)
MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# Two operators (regions), ten devices: two faulty, eight healthy, over two days.
DEVICES = {f"D{i}": ("US-W" if i < 5 else "US-E") for i in range(10)}
PERIOD = Period(T0, T0 + 2 * DAY, DEVICES)


def alert(device, at, severity, rule="r", source="streaming", *escalations):
    return RaisedAlert(
        device_id=device,
        region=DEVICES[device],
        source=source,
        rule=rule,
        steps=((at, severity), *escalations),
    )


def row(card, fault_type):
    return next(r for r in card["faults"] if r["fault_type"] == fault_type)


def test_an_acute_fault_caught_in_time_counts_with_its_latency_and_catcher():
    fault = FaultCase("D0", "compressor_overload", T0 + HOUR, T0 + 2 * HOUR)
    card = scorecard(
        period=PERIOD,
        faults=[fault],
        events=[],
        alerts=[alert("D0", T0 + HOUR + 3 * MIN, "CRITICAL", "compressor_overload")],
    )
    overload = row(card, "compressor_overload")
    assert (overload["devices"], overload["detected"], overload["recall"]) == (1, 1, 1.0)
    assert overload["latency_median_min"] == 3.0
    assert overload["caught_first_by"] == {"streaming:compressor_overload": 1}
    assert card["summary"]["acute_recall_in_time"] == 1.0
    # The alert hit the fault: nothing false.
    assert card["healthy"]["high_critical_no_fault"] == 0
    assert card["summary"]["d9_high_critical_no_fault_share"] == 0.0


def test_an_acute_fault_caught_late_or_below_its_severity_is_missed():
    late = FaultCase("D0", "cooling_loss", T0 + HOUR, T0 + 3 * HOUR)
    weak = FaultCase("D1", "low_side_loss", T0 + HOUR, T0 + 3 * HOUR)
    card = scorecard(
        period=PERIOD,
        faults=[late, weak],
        events=[],
        alerts=[
            alert("D0", T0 + HOUR + 9 * MIN, "CRITICAL"),  # 9 min > the 5 allowed
            alert("D1", T0 + HOUR + 2 * MIN, "HIGH"),  # in time, but not CRITICAL
        ],
    )
    assert row(card, "cooling_loss")["alerted_any"] == 1
    assert row(card, "cooling_loss")["at_severity"] == 1  # CRITICAL, but late
    assert row(card, "cooling_loss")["detected"] == 0
    assert row(card, "low_side_loss")["at_severity"] == 0
    assert row(card, "low_side_loss")["detected"] == 0
    assert row(card, "low_side_loss")["missed"] == ["D1"]
    assert card["summary"]["acute_recall_in_time"] == 0.0


def test_a_gradual_fault_counts_from_when_its_alert_reached_medium_and_leads_the_failure():
    failure = T0 + 30 * HOUR
    fault = FaultCase("D0", "refrigerant_leak", T0 + HOUR, PERIOD.end, failure_at=failure)
    # Raised LOW at +5 h, escalated to MEDIUM at +11 h: the lead is 30 - 11 = 19 h.
    escalated = alert("D0", T0 + 5 * HOUR, "LOW", "statistical_baseline_v1", "batch")
    escalated = RaisedAlert(
        escalated.device_id,
        escalated.region,
        escalated.source,
        escalated.rule,
        (*escalated.steps, (T0 + 11 * HOUR, "MEDIUM")),
    )
    card = scorecard(period=PERIOD, faults=[fault], events=[], alerts=[escalated])
    leak = row(card, "refrigerant_leak")
    assert leak["detected"] == 1 and leak["failures_reached"] == 1
    assert leak["lead_median_h"] == 19.0 and leak["lead_worst_h"] == 19.0
    assert card["summary"]["gradual_recall_before_failure"] == 1.0
    assert card["summary"]["gradual_lead_median_h"] == 19.0


def test_a_gradual_fault_alerted_only_after_its_failure_point_is_missed():
    fault = FaultCase("D0", "condenser_fouling", T0, PERIOD.end, failure_at=T0 + 10 * HOUR)
    card = scorecard(
        period=PERIOD,
        faults=[fault],
        events=[],
        alerts=[alert("D0", T0 + 12 * HOUR, "HIGH", source="batch")],
    )
    fouling = row(card, "condenser_fouling")
    assert (fouling["alerted_any"], fouling["detected"]) == (1, 0)
    assert fouling["lead_median_h"] is None
    assert card["summary"]["gradual_recall_before_failure"] == 0.0


def test_alerts_on_healthy_devices_and_before_an_onset_are_false_alarms():
    fault = FaultCase("D0", "door_left_open", T0 + DAY, T0 + DAY + 40 * MIN)
    alerts = [
        alert("D0", T0 + 2 * HOUR, "CRITICAL", "pressure_loss"),  # before the onset
        alert("D0", T0 + DAY + 16 * MIN, "HIGH", "door_open_too_long"),  # the fault
        alert("D5", T0 + 3 * HOUR, "CRITICAL", "pressure_loss"),  # healthy
        alert("D6", T0 + 4 * HOUR, "MEDIUM", "defrost_overdue"),  # healthy
        alert("D6", T0 + 5 * HOUR, "LOW", "sensor_spike"),  # healthy
    ]
    card = scorecard(period=PERIOD, faults=[fault], events=[], alerts=alerts)
    healthy = card["healthy"]
    # Nine healthy devices over two days: 18 device-days.
    assert healthy["devices"] == 9 and healthy["device_days"] == 18.0
    assert healthy["alerts_per_device_day"] == {
        "LOW": round(1 / 18, 4),
        "MEDIUM": round(1 / 18, 4),
        "HIGH": 0.0,
        "CRITICAL": round(1 / 18, 4),
    }
    assert healthy["high_critical_per_device_day"] == round(1 / 18, 4)
    assert healthy["devices_with_high_critical"] == 1
    # Three HIGH/CRITICAL alerts; the one before the onset and the healthy one hit nothing.
    assert healthy["high_critical_alerts"] == 3 and healthy["high_critical_no_fault"] == 2
    assert healthy["d9_high_critical_no_fault_share"] == round(2 / 3, 4)
    assert healthy["false_alarms_by_rule"] == {"streaming:pressure_loss": 2}
    assert row(card, "door_left_open")["detected"] == 1


def test_operator_load_counts_alerts_per_region_and_hour():
    alerts = [alert("D1", T0 + i * MIN, "LOW") for i in range(3)]
    alerts.append(alert("D7", T0 + 30 * HOUR, "LOW"))
    card = scorecard(period=PERIOD, faults=[], events=[], alerts=alerts)
    # 4 alerts over 2 operators x 48 hours.
    assert card["operators"] == {
        "operators": 2,
        "alerts_per_operator_hour": round(4 / 96, 4),
        "peak_alerts_per_operator_hour": 3,
    }


def test_harmless_events_report_what_they_raised_and_power_losses_their_incidents():
    glitch = EventCase("sensor_glitch", T0 + HOUR, T0 + HOUR + MIN, "S1", ("D2",))
    outage = EventCase("site_power_loss", T0 + DAY, T0 + DAY + 40 * MIN, "S2", ("D7", "D8"))
    card = scorecard(
        period=PERIOD,
        faults=[],
        events=[glitch, outage],
        alerts=[
            alert("D2", T0 + HOUR + MIN, "CRITICAL", "compressor_overload"),
            alert("D2", T0 + 3 * HOUR, "MEDIUM"),  # after the event's grace: not its doing
            alert("D8", T0 + DAY + 45 * MIN, "HIGH", "pressure_loss"),
        ],
        incidents=[
            SiteIncident("S2", "site_offline", T0 + DAY + 6 * MIN),
            SiteIncident("S1", "site_offline", T0 + DAY + 6 * MIN),  # another site
        ],
    )
    events = {r["event_type"]: r for r in card["events"]}
    assert events["sensor_glitch"]["alerts_by_severity"]["CRITICAL"] == 1
    assert events["sensor_glitch"]["alerts_by_severity"]["MEDIUM"] == 0
    assert events["sensor_glitch"]["events_with_high_critical"] == 1
    assert events["site_power_loss"]["site_incidents"] == [1]
    assert events["site_power_loss"]["alerts_by_rule"] == {"streaming:pressure_loss": 1}
    assert card["summary"]["glitch_high_critical"] == 1
    assert card["summary"]["power_loss_outages_with_one_incident"] == 1.0
    targets = {t["measure"]: t["met"] for t in card["targets"]}
    assert targets["glitch_high_critical"] is False
    assert targets["power_loss_outages_with_one_incident"] is True
    assert targets["acute_recall_in_time"] is None  # no acute fault: not measured


def test_alerts_outside_the_period_are_not_counted():
    card = scorecard(
        period=PERIOD,
        faults=[],
        events=[],
        alerts=[alert("D3", T0 - MIN, "CRITICAL"), alert("D3", PERIOD.end, "CRITICAL")],
    )
    assert card["healthy"]["high_critical_alerts"] == 0


@pytest.mark.parametrize("grace_h, hits", [(1.9, 1), (2.1, 0)])
def test_an_alert_just_after_a_repair_still_belongs_to_the_fault(grace_h, hits):
    fault = FaultCase("D0", "cooling_loss", T0 + HOUR, T0 + 3 * HOUR)
    late = alert("D0", fault.end + timedelta(hours=grace_h), "CRITICAL")
    card = scorecard(period=PERIOD, faults=[fault], events=[], alerts=[late])
    assert card["healthy"]["high_critical_no_fault"] == 1 - hits


def test_chance_says_how_many_faults_a_detector_this_noisy_would_hit_anyway():
    """Nine healthy devices, 9 MEDIUM alerts over 2 days: 0.5 per device-day. A gradual
    fault watched for the whole period would be 'detected' by chance with
    1 - exp(-0.5 x 2)."""
    import math

    fault = FaultCase("D0", "door_gasket", T0, PERIOD.end)
    noise = [alert(f"D{i}", T0 + i * HOUR, "MEDIUM", source="batch") for i in range(1, 10)]
    card = scorecard(period=PERIOD, faults=[fault], events=[], alerts=noise)
    gasket = row(card, "door_gasket")
    assert gasket["detected"] == 0
    assert gasket["chance_detected"] == round(1 - math.exp(-0.5 * 2), 2)


def test_only_site_wide_events_count_site_incidents():
    restock = EventCase("restocking", T0 + HOUR, T0 + HOUR + 10 * MIN, "S1", ("D1",))
    card = scorecard(period=PERIOD, faults=[], events=[restock], alerts=[])
    assert card["events"][0]["site_incidents"] is None
    assert card["summary"]["power_loss_outages_with_one_incident"] is None


def test_an_acute_fault_is_also_judged_from_its_first_symptom():
    """A compressor that dies in its rest shows only when it should have started again."""
    fault = FaultCase(
        "D0", "cooling_loss", T0 + HOUR, T0 + 4 * HOUR, symptom_at=T0 + HOUR + 12 * MIN
    )
    card = scorecard(
        period=PERIOD,
        faults=[fault],
        events=[],
        alerts=[alert("D0", T0 + HOUR + 15 * MIN, "CRITICAL", "cooling_loss_total")],
    )
    loss = row(card, "cooling_loss")
    assert loss["detected"] == 0  # 15 min after the onset
    assert loss["detected_from_symptom"] == 1
    assert loss["latency_from_symptom_median_min"] == 3.0
    assert card["summary"]["acute_recall_in_time"] == 0.0
    assert card["summary"]["acute_recall_from_symptom"] == 1.0
