"""Threshold preview: the replay counts alerts as the streaming worker raises them."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import DeviceAlert
from alerts.streaming import StreamingWorker
from alerts.threshold_preview import preview_parameter, replay_alerts
from alerts.thresholds import threshold_set
from fleetmon.streams import client, stream_key
from quality.ingest import ingest_messages
from scoring.streaming.rules import Thresholds
from scoring.streaming.state import Reading
from tests.conftest import NORMAL_READINGS, message
from tests.registry.console_cast import api_as, cast_of_roles

T0 = datetime(2025, 3, 1, tzinfo=UTC)

# The device runs continuously at 12 A. Overload episodes (first minute -> amps), 4 minutes
# each: at the default 1.35x its running current in a steady run (16.2 A) only the 25 A ones
# fire; at 1.2x (14.4 A) the 15 A ones too. Nobody closes the alert, so each firing after
# the first is a repeat merged into it: 3 firings and 1 alert, or 6 firings and 1 alert.
EPISODES = {60: 25.0, 200: 15.0, 330: 15.0, 600: 25.0, 700: 15.0, 1100: 25.0}
PROPOSED_FACTOR = 1.2
# Door-open episodes (first minute, minutes open): 10, 20 and 11 min.
DOOR_EPISODES = ((300, 10), (800, 20), (840, 11))
SPAN_MINUTES = 1200


def _values(minute: int) -> dict:
    door = any(start <= minute < start + length for start, length in DOOR_EPISODES)
    amps = next((a for start, a in EPISODES.items() if start <= minute < start + 4), 12.0)
    return {"current_compressor": amps, "door_open_close": door}


def _readings(device_id: str, start: datetime) -> list[Reading]:
    return [
        Reading(
            device_id=device_id,
            timestamp=start + timedelta(minutes=m),
            values={**NORMAL_READINGS, **_values(m)},
        )
        for m in range(SPAN_MINUTES)
    ]


def test_the_replay_counts_firings_and_merges_repeats_into_one_alert():
    readings = _readings("REF-X", T0)
    default = replay_alerts(readings, Thresholds(), rules=["compressor_overload"])
    tighter = replay_alerts(
        readings, Thresholds(overload_steady_factor=PROPOSED_FACTOR), rules=["compressor_overload"]
    )
    assert (default.alerts, default.firings) == (1, 3)
    assert (tighter.alerts, tighter.firings) == (1, 6)
    assert (tighter.by_rule, tighter.firings_by_rule) == (
        {"compressor_overload": 1},
        {"compressor_overload": 6},
    )


def test_an_alert_raised_before_the_window_still_takes_the_repeats_in_it():
    readings = _readings("REF-X", T0)
    since = T0 + timedelta(minutes=100)  # after the first episode
    counted = replay_alerts(
        readings,
        Thresholds(overload_steady_factor=PROPOSED_FACTOR),
        since=since,
        rules=["compressor_overload"],
    )
    assert (counted.alerts, counted.firings) == (0, 5)


def test_readings_arriving_out_of_order_replay_in_time_order():
    readings = _readings("REF-X", T0)
    shuffled = readings[::2] + readings[1::2]
    assert replay_alerts(shuffled, Thresholds()) == replay_alerts(readings, Thresholds())


@pytest.fixture
def empty_streams(settings):
    redis = client()
    keys = [stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)]
    redis.delete(*keys)
    yield
    redis.delete(*keys)


def _stored(device_id: str, rule: str) -> tuple[int, int]:
    """(visible alerts, every stored firing) of a rule on a device."""
    rows = DeviceAlert.objects.filter(device_id=device_id, model_id=rule)
    return rows.filter(suppressed=False).count(), rows.count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.storage
@pytest.mark.parametrize(
    ("parameter", "proposed", "rule"),
    [
        ("overload_steady_factor", PROPOSED_FACTOR, "compressor_overload"),
        ("door_open_max_minutes", 5.0, "door_open_too_long"),
    ],
)
def test_the_preview_count_matches_a_replay_through_the_streaming_worker(
    devices,
    now,
    empty_streams,
    parameter,
    proposed,
    rule,
):
    """Two devices send the same readings; one keeps the default, the other has the proposed
    value as its override. The worker's stored alerts and firings must equal the preview's."""
    current_device, proposed_device = devices[0], devices[1]
    threshold_set(
        parameter=parameter, value=proposed, device=proposed_device, actor="t", reason="test"
    )
    start = now - timedelta(minutes=SPAN_MINUTES + 30)
    ingest_messages(
        messages=[
            message(d.device_id, start + timedelta(minutes=m), values=_values(m))
            for d in (current_device, proposed_device)
            for m in range(SPAN_MINUTES)
        ]
    )
    worker = StreamingWorker(consumer="replay", block_ms=50)
    while worker.step():
        pass
    with_current = _stored(current_device.device_id, rule)
    with_proposed = _stored(proposed_device.device_id, rule)
    assert with_proposed[1] > with_current[1] > 0  # the readings tell the two values apart

    preview = preview_parameter(
        device_id=current_device.device_id,
        current=Thresholds(),
        parameter=parameter,
        value=proposed,
        rules=[rule],
        now=now,
    )
    assert (preview.proposed.alerts, preview.proposed.firings) == with_proposed
    assert (preview.current.alerts, preview.current.firings) == with_current
    assert preview.readings == SPAN_MINUTES

    # The API answers the same, for the device in scope, with the sentence the page shows.
    answer = api_as(cast_of_roles()["operator_a"]).post(
        f"/api/v1/devices/{current_device.device_id}/thresholds/{parameter}/preview/",
        {"value": proposed},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["alerts"], body["firings"]) == with_proposed
    assert (body["current_alerts"], body["current_firings"]) == with_current
    assert body["message"] == (
        f"would have raised 1 alert ({with_proposed[1]} firings) in the last 7 days "
        f"(now: 1 alert, {with_current[1]} firing{'' if with_current[1] == 1 else 's'})"
    )
