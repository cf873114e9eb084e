"""Threshold editor API: edit with a reason -> history -> effective value -> the streaming
worker uses it; impossible values refused per field; remove; revert; roles and scope."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import DeviceAlert, RuleThreshold, ThresholdHistory
from alerts.streaming import StreamingWorker
from alerts.threshold_views import CATALOGUE
from alerts.thresholds import LIMITS, PARAMETERS, threshold_set
from fleetmon.streams import client, stream_key
from quality.ingest import ingest_messages
from scoring.streaming import RULES, Thresholds
from tests.conftest import message, register_devices
from tests.registry.console_cast import api_as, cast_of_roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return cast_of_roles()


@pytest.fixture
def west(db):
    return register_devices(1, region="US-W", site_no=1)[0]


def url(device, tail: str = "") -> str:
    return f"/api/v1/devices/{device.device_id}/thresholds/{tail}"


def put(user, device, parameter, body):
    return api_as(user).put(url(device, f"{parameter}/"), body, format="json")


def rows(user, device) -> dict:
    answer = api_as(user).get(url(device))
    assert answer.status_code == 200, answer.content
    return {p["parameter"]: p for p in answer.json()["parameters"]}


def test_every_threshold_parameter_has_an_editor_entry_for_a_real_rule():
    assert set(CATALOGUE) == set(PARAMETERS)
    assert {rule for info in CATALOGUE.values() for rule in info.rules} <= set(RULES)


def test_the_list_shows_effective_value_source_and_limits(people, west):
    threshold_set(
        parameter="door_open_max_minutes", value=20, cohort=west.cohort, actor="ml", reason="x"
    )
    found = rows(people["operator_a"], west)
    door = found["door_open_max_minutes"]
    assert (door["effective"], door["source"], door["cohort_value"], door["default"]) == (
        20.0,
        "cohort",
        20.0,
        15.0,
    )
    amps = found["compressor_overload_amps"]
    assert (amps["effective"], amps["source"], amps["unit"]) == (40.0, "default", "A")
    assert (amps["min"], amps["max"], amps["rules"]) == (5.0, 50.0, ["compressor_overload"])
    running = found["min_run_minutes"]
    assert (running["effective"], running["unit"], running["rules"]) == (
        3.0,
        "min",
        ["compressor_overload", "pressure_loss_acute", "cooling_loss_total"],
    )


def test_persistence_clear_levels_and_running_time_are_editable_parameters():
    for rule in ("overload", "vibration", "pressure", "cooling"):
        assert {f"{rule}_persist_k", f"{rule}_persist_n"} <= set(CATALOGUE)
    assert {
        "overload_clear_factor",
        "vibration_clear_factor",
        "pressure_clear_fraction",
        "cooling_clear_k",
        "min_run_minutes",
        "post_defrost_minutes",
        "restart_minutes",
    } <= set(CATALOGUE)
    # Every one has a physically sane range that its default sits in.
    for name in CATALOGUE:
        low, high = LIMITS[name]
        assert 0 <= low < high and low <= getattr(Thresholds(), name) <= high, name


def test_no_threshold_on_a_sensor_reading_lies_beyond_what_the_sensor_can_report():
    """A limit compared with a reading is inside the sensor's valid range (domain §1.1):
    past it the reading is nulled (RANGE_VIOLATION) and the rule could never fire."""
    from fleetmon.sensors import SENSORS

    ranges = {s.name: (s.low, s.high) for s in SENSORS}
    read_against = {
        "compressor_overload_amps": "current_compressor",
        "defrost_coil_warm_c": "temperature_evaporator",
    }
    for parameter, sensor in read_against.items():
        low, high = LIMITS[parameter]
        assert ranges[sensor][0] <= low < high <= ranges[sensor][1], parameter
    # A compressor at rest draws next to nothing; one running draws at least ~5 A (§1.1).
    assert LIMITS["compressor_overload_amps"][0] >= 5


def test_a_cohort_limit_is_held_to_the_same_physical_range(people, west):
    cohort_url = f"/api/v1/cohorts/{west.cohort_id}/thresholds/compressor_overload_amps/"
    for value in (1, 75):
        answer = api_as(people["ml_engineer"]).put(
            cohort_url, {"value": value, "reason": "x"}, format="json"
        )
        assert answer.status_code == 400, answer.content
        assert "between 5 and 50" in answer.json()["value"][0]
    assert not RuleThreshold.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.storage
def test_an_edit_is_recorded_becomes_effective_and_the_running_worker_uses_it(people, west, now):
    redis = client()
    from django.conf import settings

    keys = [stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)]
    redis.delete(*keys)
    try:
        worker = StreamingWorker(consumer="editor", block_ms=50)
        # The worker meets the device (and loads its thresholds) before the edit.
        ingest_messages(messages=[message(west.device_id, now - timedelta(minutes=10))])
        while worker.step():
            pass
        ingest_messages(
            messages=[
                message(
                    west.device_id,
                    now - timedelta(minutes=9 - m),
                    values={"current_compressor": 25.0},
                )
                for m in range(3)
            ]
        )
        while worker.step():
            pass
        # 25 A is fine at the default 40 A (too few readings to know its running current).
        assert not DeviceAlert.objects.exists()

        answer = put(
            people["operator_a"],
            west,
            "compressor_overload_amps",
            {"value": 20, "reason": "small compressor, 16 A nominal"},
        )
        assert answer.status_code == 200, answer.content
        assert answer.json()["parameter"]["effective"] == 20.0

        entry = ThresholdHistory.objects.get()
        assert (entry.device_id, entry.scope, entry.old_value, entry.new_value) == (
            west.device_id,
            "device",
            None,
            20.0,
        )
        assert (entry.changed_by, entry.reason) == ("operator_a", "small compressor, 16 A nominal")
        found = rows(people["manager"], west)["compressor_overload_amps"]
        assert (found["effective"], found["source"]) == (20.0, "device")

        ingest_messages(
            messages=[
                message(
                    west.device_id,
                    now - timedelta(minutes=5 - m),
                    values={"current_compressor": amps},
                )
                for m, amps in enumerate([12, 12, 12, 25, 25, 25])
            ]
        )
        while worker.step():
            pass
        alert = DeviceAlert.objects.get()
        assert (alert.model_id, alert.first_detected_at) == (
            "compressor_overload",
            now - timedelta(minutes=0),
        )
        assert alert.events.get().details["threshold"] == 20.0
    finally:
        redis.delete(*keys)


@pytest.mark.parametrize(
    ("parameter", "body", "field", "message"),
    [
        ("compressor_overload_amps", {"value": 0, "reason": "x"}, "value", "between 5 and 50"),
        ("compressor_overload_amps", {"value": 1, "reason": "x"}, "value", "between 5 and 50"),
        ("compressor_overload_amps", {"value": 250, "reason": "x"}, "value", "between 5 and 50"),
        # Past the sensor's 50 A top a reading is nulled: such a limit could never fire.
        ("compressor_overload_amps", {"value": 50.5, "reason": "x"}, "value", "between 5 and 50"),
        ("compressor_overload_amps", {"value": "NaN", "reason": "x"}, "value", "valid number"),
        ("defrost_coil_warm_c", {"value": 45, "reason": "x"}, "value", "between 0 and 30"),
        ("overload_factor", {"value": 1.1, "reason": "x"}, "value", "between 1.3 and 5"),
        ("pressure_drop_fraction", {"value": 1.5, "reason": "x"}, "value", "between 0.05 and 0.95"),
        ("door_open_max_minutes", {"value": -3, "reason": "x"}, "value", "between 1 and 720"),
        ("vibration_min_history", {"value": 10.5, "reason": "x"}, "value", "whole number"),
        ("overload_persist_k", {"value": 2.5, "reason": "x"}, "value", "whole number"),
        ("overload_persist_k", {"value": 5, "reason": "x"}, "value", "must not exceed"),
        ("overload_clear_factor", {"value": 2.5, "reason": "x"}, "value", "must be below"),
        ("pressure_clear_fraction", {"value": 0.3, "reason": "x"}, "value", "must be below"),
        ("defrost_high_minutes", {"value": 30, "reason": "x"}, "value", "must not exceed"),
        ("door_open_max_minutes", {"value": "soon", "reason": "x"}, "value", "valid number"),
        ("door_open_max_minutes", {"reason": "x"}, "value", "required"),
        ("door_open_max_minutes", {"value": 20}, "reason", "a reason is required"),
        ("door_open_max_minutes", {"value": 20, "reason": "   "}, "reason", "a reason is required"),
    ],
)
def test_impossible_values_and_missing_reasons_are_refused_per_field(
    people, west, parameter, body, field, message
):
    answer = put(people["operator_a"], west, parameter, body)
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])
    assert not RuleThreshold.objects.exists()
    assert not ThresholdHistory.objects.exists()


def test_every_field_problem_is_reported_at_once(people, west):
    answer = put(people["operator_a"], west, "compressor_overload_amps", {"value": 0})
    assert answer.status_code == 400
    assert set(answer.json()) == {"value", "reason"}


def test_the_preview_refuses_an_impossible_value_too(people, west):
    answer = api_as(people["operator_a"]).post(
        url(west, "pressure_drop_fraction/preview/"), {"value": 2}, format="json"
    )
    assert answer.status_code == 400
    assert "between 0.05 and 0.95" in answer.json()["value"][0]
    clash = api_as(people["operator_a"]).post(
        url(west, "pressure_clear_fraction/preview/"), {"value": 0.4}, format="json"
    )
    assert clash.status_code == 400
    assert "must be below pressure_drop_fraction (0.3)" in clash.json()["value"][0]


def test_a_relation_is_judged_against_the_devices_own_values(people, west):
    operator = people["operator_a"]
    assert (
        put(operator, west, "overload_clear_factor", {"value": 2.5, "reason": "x"}).status_code
        == 400
    )
    assert put(operator, west, "overload_factor", {"value": 3.0, "reason": "x"}).status_code == 200
    # With its own 3x trip level, a 2.5x clear level is on the safe side of it.
    answer = put(operator, west, "overload_clear_factor", {"value": 2.5, "reason": "x"})
    assert answer.status_code == 200, answer.content
    assert rows(operator, west)["overload_clear_factor"]["effective"] == 2.5


def test_an_unknown_parameter_is_not_found(people, west):
    answer = put(people["operator_a"], west, "flux_capacitance", {"value": 1, "reason": "x"})
    assert answer.status_code == 404
    assert "compressor_overload_amps" in answer.json()["detail"]


def test_removing_the_override_falls_back_to_the_cohort_value(people, west):
    cohort_url = f"/api/v1/cohorts/{west.cohort_id}/thresholds/door_open_max_minutes/"
    answer = api_as(people["ml_engineer"]).put(
        cohort_url, {"value": 25, "reason": "walk-ins are busy"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    own = put(people["operator_a"], west, "door_open_max_minutes", {"value": 30, "reason": "x"})
    assert own.status_code == 200
    assert rows(people["operator_a"], west)["door_open_max_minutes"]["source"] == "device"

    remove = api_as(people["operator_a"]).delete(
        url(west, "door_open_max_minutes/"), {"reason": "cohort value is right"}, format="json"
    )
    assert remove.status_code == 200, remove.content
    assert (remove.json()["parameter"]["effective"], remove.json()["parameter"]["source"]) == (
        25.0,
        "cohort",
    )
    assert remove.json()["change"]["new_value"] is None
    again = api_as(people["operator_a"]).delete(
        url(west, "door_open_max_minutes/"), {"reason": "twice"}, format="json"
    )
    assert again.status_code == 400
    assert "no override" in again.json()["parameter"][0]
    no_reason = api_as(people["ml_engineer"]).delete(cohort_url, {}, format="json")
    assert no_reason.status_code == 400
    assert no_reason.json()["reason"] == ["a reason is required"]


def test_revert_puts_the_old_value_back_as_a_new_change(people, west):
    operator = people["operator_a"]
    put(operator, west, "door_open_max_minutes", {"value": 20, "reason": "busy store"})
    put(operator, west, "door_open_max_minutes", {"value": 35, "reason": "still noisy"})
    history = api_as(operator).get(url(west, "history/")).json()
    assert [(h["old_value"], h["new_value"]) for h in history] == [(20.0, 35.0), (None, 20.0)]
    second, first = history

    back = api_as(operator).post(url(west, f"history/{second['id']}/revert/"), {}, format="json")
    assert back.status_code == 201, back.content
    assert (back.json()["old_value"], back.json()["new_value"]) == (35.0, 20.0)
    assert back.json()["reason"] == f"Revert of change #{second['id']}"
    assert rows(operator, west)["door_open_max_minutes"]["effective"] == 20.0

    # Reverting the first change removes the override: the default applies again.
    gone = api_as(operator).post(
        url(west, f"history/{first['id']}/revert/"), {"reason": "trial over"}, format="json"
    )
    assert gone.status_code == 201
    assert gone.json()["new_value"] is None
    assert gone.json()["reason"] == f"Revert of change #{first['id']}: trial over"
    door = rows(operator, west)["door_open_max_minutes"]
    assert (door["effective"], door["source"]) == (15.0, "default")
    assert ThresholdHistory.objects.count() == 4


def test_cohort_changes_show_in_the_device_history_and_only_ml_reverts_them(people, west):
    answer = api_as(people["ml_engineer"]).put(
        f"/api/v1/cohorts/{west.cohort_id}/thresholds/defrost_max_minutes/",
        {"value": 60, "reason": "long defrost model"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    entry = api_as(people["operator_a"]).get(url(west, "history/")).json()[0]
    assert (entry["scope"], entry["cohort_id"]) == ("cohort", west.cohort_id)
    revert = url(west, f"history/{entry['id']}/revert/")
    assert api_as(people["operator_a"]).post(revert, {}, format="json").status_code == 403
    assert api_as(people["ml_engineer"]).post(revert, {}, format="json").status_code == 201
    assert not RuleThreshold.objects.filter(scope="cohort").exists()


def test_cohort_thresholds_are_for_ml_engineers_and_admins(people, west):
    cohort_url = f"/api/v1/cohorts/{west.cohort_id}/thresholds/compressor_overload_amps/"
    body = {"value": 35, "reason": "small units"}
    for name in ("operator_a", "manager"):
        assert api_as(people[name]).put(cohort_url, body, format="json").status_code == 403
    assert api_as(people["admin"]).put(cohort_url, body, format="json").status_code == 200
    listed = api_as(people["operator_a"]).get(f"/api/v1/cohorts/{west.cohort_id}/thresholds/")
    assert listed.status_code == 200
    by_name = {p["parameter"]: p for p in listed.json()}
    assert by_name["compressor_overload_amps"]["cohort_value"] == 35.0
    missing = api_as(people["admin"]).put(
        "/api/v1/cohorts/NOPE/none/thresholds/compressor_overload_amps/", body, format="json"
    )
    assert missing.status_code == 404


def test_device_thresholds_are_for_operators_in_scope_and_admins(people, west):
    body = {"value": 30, "reason": "r"}
    for name in ("manager", "ml_engineer"):
        answer = put(people[name], west, "compressor_overload_amps", body)
        assert answer.status_code == 403, name
        remove = api_as(people[name]).delete(
            url(west, "compressor_overload_amps/"), {"reason": "r"}, format="json"
        )
        assert remove.status_code == 403
    assert put(people["admin"], west, "compressor_overload_amps", body).status_code == 200
    change = ThresholdHistory.objects.get()
    for name in ("manager", "ml_engineer"):
        revert = api_as(people[name]).post(url(west, f"history/{change.pk}/revert/"), {})
        assert revert.status_code == 403
    # Reading and previewing change nothing: every role in scope may.
    for name in ("manager", "ml_engineer", "operator_a"):
        assert api_as(people[name]).get(url(west)).status_code == 200
        assert api_as(people[name]).get(url(west, "history/")).status_code == 200
    assert api_as(people["manager"]).get(url(west)).json()["can_edit_device"] is False


def test_an_operator_of_another_region_finds_nothing(people, west):
    """Every endpoint answers 404 for a device outside the user's scope, writes included."""
    put(people["operator_a"], west, "compressor_overload_amps", {"value": 30, "reason": "r"})
    change = ThresholdHistory.objects.get()
    outsider = api_as(people["operator_b"])
    answers = [
        outsider.get(url(west)),
        outsider.put(
            url(west, "compressor_overload_amps/"), {"value": 20, "reason": "r"}, format="json"
        ),
        outsider.delete(url(west, "compressor_overload_amps/"), {"reason": "r"}, format="json"),
        outsider.post(url(west, "compressor_overload_amps/preview/"), {"value": 20}, format="json"),
        outsider.get(url(west, "history/")),
        outsider.post(url(west, f"history/{change.pk}/revert/"), {}, format="json"),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert RuleThreshold.objects.get().value == 30.0  # untouched


def test_a_history_entry_of_another_device_cannot_be_reverted_through_this_one(people, west):
    other = register_devices(1, region="US-W", site_no=3)[0]
    put(people["operator_a"], other, "compressor_overload_amps", {"value": 30, "reason": "r"})
    change = ThresholdHistory.objects.get()
    answer = api_as(people["operator_a"]).post(url(west, f"history/{change.pk}/revert/"), {})
    assert answer.status_code == 404


def test_without_a_login_nothing_answers(west):
    assert api_as(None).get(url(west)).status_code in (401, 403)
    answer = api_as(None).put(url(west, "door_open_max_minutes/"), {"value": 20, "reason": "r"})
    assert answer.status_code in (401, 403)


def test_a_change_to_a_parameter_the_rules_no_longer_have_cannot_be_reverted(people, west):
    """Issue 11 replaced the 2 °C/min cooling-loss rule: its old history stays readable, and
    reverting it is refused in words, not with a server error."""
    old = ThresholdHistory.objects.create(
        parameter="evap_rise_c_per_min",
        scope="device",
        device_id=west.device_id,
        old_value=None,
        new_value=3.0,
        changed_by="ana",
        changed_at=timezone.now(),
        reason="before issue 11",
    )
    answer = api_as(people["operator_a"]).post(url(west, f"history/{old.pk}/revert/"), {})
    assert answer.status_code == 400
    assert "unknown parameter 'evap_rise_c_per_min'" in answer.json()["detail"][0]
