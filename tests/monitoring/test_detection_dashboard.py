"""The ML dashboard's Detection section and its API: the latest scorecard, its trend and its
worst rows from stored evaluations, the same measures from real operator labels, and who
may see them. Evaluations are stored from scorecards computed on hand-made cases."""

import re
from html import unescape

import pytest

from alerts import workflow
from monitoring.detection import charts, selectors
from monitoring.models import DetectionEvaluation
from tests.conftest import register_devices
from tests.monitoring.detection_cast import (
    DAY,
    HOUR,
    T0,
    clean_card,
    evaluation_store,
    mixed_card,
)
from tests.monitoring.ml_cast import version
from tests.registry.console_cast import api_as, cast_of_roles, make_alert

ML_PAGE = "/monitoring/ml/"
API = "/api/v1/monitoring/detection/"
Status, Purpose = DetectionEvaluation.Status, DetectionEvaluation.Purpose


@pytest.fixture
def people(db):
    return cast_of_roles()


@pytest.fixture
def history(db):
    """Two succeeded scorecards, then a failed and a running one, and a gate replay newer
    than all of them; stored out of time order so ids do not give the order away."""
    newest = evaluation_store(mixed_card(), at=T0 + 2 * DAY, seed=2)
    oldest = evaluation_store(clean_card(), at=T0, seed=1)
    failed = evaluation_store(
        at=T0 + 3 * DAY, status=Status.FAILED, error="OperationalError: scratch database gone"
    )
    running = evaluation_store(at=T0 + 4 * DAY, status=Status.RUNNING)
    gate = evaluation_store(
        clean_card(),
        at=T0 + 5 * DAY,
        purpose=Purpose.GATE_CANDIDATE,
        candidate="isolation_forest_v4",
        seed=7,
    )
    return {"newest": newest, "oldest": oldest, "failed": failed, "running": running, "gate": gate}


def table_row(html: str, table_id: str, attr: str, value: str) -> str:
    """The text of one row of one table of the page, tags stripped, spaces collapsed."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table #{table_id}"
    row = re.search(rf'<tr {attr}="{re.escape(value)}">(.*?)</tr>', table.group(0), re.S)
    assert row, f"no row {attr}={value} in #{table_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", row.group(1))).split())


# ---------------------------------------------------------------- selectors


def test_latest_is_the_newest_succeeded_scorecard_not_a_failed_running_or_gate_one(history):
    assert selectors.evaluation_latest() == history["newest"]


def test_no_latest_when_only_failed_running_and_gate_replays_exist(db):
    evaluation_store(at=T0, status=Status.FAILED, error="boom")
    evaluation_store(at=T0, status=Status.RUNNING)
    evaluation_store(clean_card(), at=T0, purpose=Purpose.GATE_PRODUCTION)
    assert selectors.evaluation_latest() is None


def test_trend_has_one_point_per_succeeded_scorecard_oldest_first(history):
    trend = selectors.evaluation_trend()

    assert [p["id"] for p in trend] == [history["oldest"].pk, history["newest"].pk]
    assert [p["acute_recall"] for p in trend] == [1.0, 0.5]
    assert trend[1]["d9_share"] == round(4 / 6, 4)
    assert trend[1]["healthy_high_critical_per_device_day"] == round(4 / 12, 4)


def test_trend_keeps_the_last_evaluations_when_there_are_more(history):
    latest_third = evaluation_store(clean_card(), at=T0 + 6 * DAY)

    trend = selectors.evaluation_trend(limit=2)

    assert [p["id"] for p in trend] == [history["newest"].pk, latest_third.pk]


def test_worst_fault_rows_are_ordered_by_recall_and_say_how_they_were_missed(history):
    worst = selectors.worst_faults(history["newest"].scorecard)

    # compressor_overload was caught every time: not a worst row.
    assert [r["fault_type"] for r in worst] == ["cooling_loss", "refrigerant_leak"]
    cooling, leak = worst
    assert (cooling["recall"], cooling["alerted_late_or_weak"], cooling["never_alerted"]) == (
        0.0,
        1,
        0,
    )
    assert (leak["recall"], leak["alerted_late_or_weak"], leak["never_alerted"]) == (0.5, 0, 1)
    assert leak["missed"] == ["D3"]


def test_worst_false_alarms_rank_rules_and_events_by_false_high_critical(history):
    worst = selectors.worst_false_alarms(history["newest"].scorecard)

    assert worst["rules"] == [
        {"rule": "streaming:pressure_loss", "high_critical_no_fault": 2},
        {"rule": "batch:isolation_forest_v3", "high_critical_no_fault": 1},
        {"rule": "streaming:compressor_overload", "high_critical_no_fault": 1},
    ]
    assert [(e["event_type"], e["high_critical"]) for e in worst["events"]] == [
        ("sensor_glitch", 1)
    ]


def test_unfinished_lists_failed_and_running_scorecards_newer_than_the_latest(history):
    unfinished = selectors.detection_overview(now=T0 + 6 * DAY)["unfinished"]

    assert [e["id"] for e in unfinished] == [history["running"].pk, history["failed"].pk]
    assert unfinished[1]["error"] == "OperationalError: scratch database gone"


def test_gate_replays_carry_the_candidate_and_its_stored_verdict(history):
    candidate = version("isolation_forest", 4, role="canary")
    candidate.validation = {"detection": {"passed": False, "failures": ["gradual recall fell"]}}
    candidate.save()

    gates = selectors.gate_evaluations()

    assert [(g["id"], g["candidate"]) for g in gates] == [
        (history["gate"].pk, "isolation_forest_v4")
    ]
    assert gates[0]["verdict"] == {"passed": False, "failures": ["gradual recall fell"]}


def test_a_gate_replay_without_a_stored_verdict_says_none(history):
    assert selectors.gate_evaluations()[0]["verdict"] is None


def test_label_measures_count_false_positive_verdicts_and_maintenance_resolved_alerts(db):
    device = register_devices(1)[0]
    now = T0 + 10 * DAY
    false_alarm = make_alert(device, at=now - DAY, severity="HIGH", rule="door_open_too_long")
    fixed = make_alert(device, at=now - 2 * DAY, severity="HIGH", rule="door_open_too_long")
    cleared = make_alert(device, at=now - 3 * DAY, severity="CRITICAL", rule="isolation_forest_v3")
    make_alert(device, at=now - DAY, severity="MEDIUM", rule="door_open_too_long")  # not paged
    too_old = make_alert(device, at=now - 40 * DAY, severity="HIGH", rule="door_open_too_long")
    workflow.mark_false_positive(alert_id=false_alarm.pk, actor="op", reason="restocking")
    workflow.mark_false_positive(alert_id=too_old.pk, actor="op", reason="restocking")
    scheduled = workflow.schedule_maintenance(
        alert_id=fixed.pk, actor="op", event_type="corrective", scheduled_date=now - DAY
    )
    workflow.resolve(
        alert_id=fixed.pk,
        actor="tech",
        note="replaced the door gasket",
        maintenance_event_id=scheduled.maintenance.pk,
    )

    # Resolved, but with no maintenance: not a hit.
    workflow.resolve(alert_id=cleared.pk, actor="op", note="cleared by itself")

    labels = selectors.detection_overview(now=now)["labels"]

    assert (labels["high_critical_alerts"], labels["false_positive"]) == (3, 1)
    assert labels["false_positive_share"] == round(1 / 3, 4)
    assert (labels["resolved_with_maintenance"], labels["hit_rate"]) == (1, round(1 / 3, 4))
    door = next(r for r in labels["by_rule"] if r["rule"] == "streaming:door_open_too_long")
    assert door == {
        "rule": "streaming:door_open_too_long",
        "alerts": 2,
        "false_positive": 1,
        "false_positive_share": 0.5,
        "resolved_with_maintenance": 1,
    }


# ---------------------------------------------------------------- trend figure (pure)


def point(pk, **figures):
    return {"id": pk, "created_at": T0 + pk * HOUR, "seed": 1, "devices": 10, **figures}


def test_a_single_evaluation_is_drawn_as_points_on_fixed_share_and_rate_axes():
    only = point(
        1,
        acute_recall=0.5,
        gradual_recall=1.0,
        d9_share=0.2,
        healthy_high_critical_per_device_day=0.0,
    )

    figure = charts.trend_figure([only])

    assert {t["mode"] for t in figure["data"]} == {"markers"}
    assert len(figure["data"]) == 4
    layout = figure["layout"]
    assert layout["xaxis"]["categoryarray"] == [charts.point_label(point(1))]
    assert layout["yaxis"]["range"] == [0, 1.05]
    # A zero rate still gets an axis with room, not a degenerate one.
    assert layout["yaxis2"]["range"] == [0, charts.MIN_RATE_AXIS]


def test_the_trend_joins_points_in_the_order_given():
    points = [point(1, acute_recall=0.5), point(2, acute_recall=0.75)]

    figure = charts.trend_figure(points)

    (trace,) = figure["data"]
    assert trace["mode"] == "lines+markers"
    assert list(trace["y"]) == [0.5, 0.75]
    assert list(trace["x"]) == [charts.point_label(p) for p in points]


def test_no_axes_are_drawn_without_data():
    empty = charts.trend_figure([])
    assert empty["data"] == [] and empty["layout"]["yaxis"]["visible"] is False
    assert empty["layout"]["xaxis"]["visible"] is False and "yaxis2" not in empty["layout"]
    assert empty["layout"]["annotations"][0]["text"] == "No succeeded evaluation yet"

    # Only a rate measured: no share axis, no share traces.
    rate_only = charts.trend_figure([point(1, healthy_high_critical_per_device_day=0.3)])
    assert [t["yaxis"] for t in rate_only["data"]] == ["y2"]
    assert rate_only["layout"]["yaxis"]["visible"] is False


# ---------------------------------------------------------------- page


def test_the_section_shows_the_stored_targets_and_fault_tables(people, history):
    html = api_as(people["ml_engineer"]).get(ML_PAGE).content.decode()

    assert 'id="detection-heading">Detection</h2>' in html
    latest = history["newest"]
    assert f'data-evaluation="{latest.pk}"' in html and "seed 2" in html
    assert "isolation_forest_v3" in html and f"/api/v1/monitoring/detection/{latest.pk}/" in html
    assert "1 of 7</strong> measured targets met" in html
    assert table_row(html, "detection-targets", "data-measure", "acute_recall_in_time") == (
        "Acute recall in time >= 0.95 0.500 ✗ NOT met"
    )
    assert table_row(html, "detection-targets", "data-measure", "gradual_lead_median_h") == (
        "Gradual lead before failure, median (h) >= 12 19.000 ✓ met"
    )
    assert table_row(
        html, "detection-targets", "data-measure", "power_loss_outages_with_one_incident"
    ).endswith("– not measured")
    assert table_row(html, "detection-faults", "data-fault", "compressor_overload") == (
        "compressor_overload acute CRITICAL 1 1 1 100.0 % 3.0 / 3.0 – "
        "streaming:compressor_overload 1"
    )
    assert table_row(html, "detection-faults", "data-fault", "refrigerant_leak") == (
        "refrigerant_leak gradual MEDIUM 2 1 1 50.0 % – 19.0 / 19.0 batch:isolation_forest_v3 1"
    )
    assert table_row(html, "detection-worst-faults", "data-fault", "cooling_loss") == (
        "cooling_loss (acute, CRITICAL) 0.0 % (0 of 1) 1 0 D1"
    )
    assert table_row(html, "detection-worst-rules", "data-rule", "streaming:pressure_loss") == (
        "streaming:pressure_loss 2"
    )
    assert table_row(html, "detection-events", "data-event", "sensor_glitch").startswith(
        "sensor_glitch 1 0 0 0 1 1"
    )
    # The trend chart, with its figure beside it, and the failed scorecard's error.
    assert 'data-figure-json="fig-detection-trend"' in html and 'id="fig-detection-trend"' in html
    assert "OperationalError: scratch database gone" in html
    assert table_row(html, "detection-gates", "data-evaluation", str(history["gate"].pk))


def test_the_empty_section_shows_the_command_and_draws_no_chart(people, db):
    html = api_as(people["ml_engineer"]).get(ML_PAGE).content.decode()

    assert "No detection evaluation yet" in html
    assert "<code>manage.py evaluate_detection</code>" in html
    assert "200 devices, 10 days of history and 3 test days with seed 1" in html
    assert "fig-detection-trend" not in html and 'id="detection-targets"' not in html
    assert "No HIGH or CRITICAL alert in 30 days." in html  # real labels: none yet


# ---------------------------------------------------------------- API


def test_overview_api_returns_latest_trend_worst_rows_and_labels(people, history):
    response = api_as(people["ml_engineer"]).get(API)

    assert response.status_code == 200
    body = response.json()
    assert body["latest"]["id"] == history["newest"].pk
    assert body["latest"]["model_versions"][0]["model_id"] == "isolation_forest_v3"
    assert [t["met"] for t in body["latest"]["targets"]].count(True) == 1
    assert [p["id"] for p in body["trend"]] == [history["oldest"].pk, history["newest"].pk]
    assert len(body["figure"]["data"]) == 4
    assert [r["fault_type"] for r in body["worst"]["faults"]] == [
        "cooling_loss",
        "refrigerant_leak",
    ]
    assert body["worst"]["rules"][0] == {
        "rule": "streaming:pressure_loss",
        "high_critical_no_fault": 2,
    }
    assert body["labels"]["high_critical_alerts"] == 0
    assert body["gates"][0]["candidate"] == "isolation_forest_v4"
    assert body["unfinished"][1]["status"] == "failed"


def test_overview_api_before_any_evaluation(people, db):
    body = api_as(people["admin"]).get(API).json()

    assert body["latest"] is None and body["trend"] == [] and body["gates"] == []
    assert body["worst"] == {"faults": [], "events": [], "rules": []}
    assert body["command"] == "manage.py evaluate_detection"


def test_one_evaluation_comes_with_its_full_scorecard(people, history):
    newest = history["newest"]

    body = api_as(people["ml_engineer"]).get(f"{API}{newest.pk}/").json()

    assert body["status"] == "succeeded" and body["scorecard"] == mixed_card()
    assert body["thresholds"]["compressor_overload_amps"] == 40.0


def test_a_failed_evaluation_comes_with_its_error(people, history):
    body = api_as(people["ml_engineer"]).get(f"{API}{history['failed'].pk}/").json()

    assert body["status"] == "failed"
    assert body["error"] == "OperationalError: scratch database gone"
    assert body["scorecard"] == {} and body["healthy"] is None and body["faults"] == []


def test_an_unknown_evaluation_is_404(people, db):
    assert api_as(people["ml_engineer"]).get(f"{API}999999/").status_code == 404


@pytest.mark.parametrize("who", ["ml_engineer", "admin"])
def test_ml_engineers_and_admins_may_read_the_detection_api(people, history, who):
    client = api_as(people[who])
    assert client.get(API).status_code == 200
    assert client.get(f"{API}{history['newest'].pk}/").status_code == 200


@pytest.mark.parametrize("who", ["operator_a", "manager"])
def test_operators_and_managers_are_refused_the_detection_api(people, history, who):
    client = api_as(people[who])
    assert client.get(API).status_code == 403
    assert client.get(f"{API}{history['newest'].pk}/").status_code == 403


def test_anonymous_callers_are_told_to_authenticate(history):
    client = api_as(None)
    assert client.get(API).status_code == 401
    assert client.get(f"{API}{history['newest'].pk}/").status_code == 401
    assert client.get(ML_PAGE).status_code == 302  # the page: to the sign-in form


def test_operators_do_not_see_the_section(people, history):
    assert api_as(people["operator_a"]).get(ML_PAGE).status_code == 403
