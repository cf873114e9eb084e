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

# Minute offsets -> compressor current. At 40 A (the default) the 45 A spikes fire; at 30 A
# the 33-36 A ones fire too, but several land within 4 h (D6) of the last one and are
# suppressed: 30 A gives 6 firings but 3 alerts, 40 A gives 2 firings and 2 alerts.
SPIKES = {60: 45.0, 120: 35.0, 330: 35.0, 600: 35.0, 700: 45.0, 1100: 33.0}
# Door-open episodes (first minute, minutes open): 10, 20 and 11 min; the last within 4 h.
DOOR_EPISODES = ((300, 10), (800, 20), (830, 11))
SPAN_MINUTES = 1200


def _values(minute: int) -> dict:
    door = any(start <= minute < start + length for start, length in DOOR_EPISODES)
    return {"current_compressor": SPIKES.get(minute, 12.0), "door_open_close": door}


def _readings(device_id: str, start: datetime) -> list[Reading]:
    return [
        Reading(
            device_id=device_id,
            timestamp=start + timedelta(minutes=m),
            values={**NORMAL_READINGS, **_values(m)},
        )
        for m in range(SPAN_MINUTES)
    ]


def test_the_replay_counts_alerts_after_the_four_hour_dedup():
    readings = _readings("REF-X", T0)
    at_40 = replay_alerts(readings, Thresholds(), rules=["compressor_overload"])
    at_30 = replay_alerts(
        readings, Thresholds(compressor_overload_amps=30), rules=["compressor_overload"]
    )
    assert (at_40.alerts, at_40.firings) == (2, 2)
    # 60 and 600 and 1100 start alerts; 120, 330 and 700 fall within 4 h of the previous
    # firing (each suppressed one keeps the alert alive, D6) and are suppressed.
    assert (at_30.alerts, at_30.firings) == (3, 6)
    assert at_30.by_rule == {"compressor_overload": 3}


def test_the_replay_ignores_firings_before_the_window_but_keeps_their_dedup():
    readings = _readings("REF-X", T0)
    since = T0 + timedelta(minutes=100)  # after the first spike, before the second
    counted = replay_alerts(
        readings,
        Thresholds(compressor_overload_amps=30),
        since=since,
        rules=["compressor_overload"],
    )
    # 120 and 330 are still suppressed by the alert of minute 60, raised before the window.
    assert counted.alerts == 2


def test_readings_arriving_out_of_order_replay_in_time_order():
    readings = _readings("REF-X", T0)
    shuffled = readings[::2] + readings[1::2]
    assert (
        replay_alerts(shuffled, Thresholds()).by_rule
        == replay_alerts(readings, Thresholds()).by_rule
    )


@pytest.fixture
def empty_streams(settings):
    redis = client()
    keys = [stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)]
    redis.delete(*keys)
    yield
    redis.delete(*keys)


def _stored_alerts(device_id: str, rule: str) -> int:
    return DeviceAlert.objects.filter(device_id=device_id, model_id=rule, suppressed=False).count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.storage
@pytest.mark.parametrize(
    ("parameter", "proposed", "rule"),
    [
        ("compressor_overload_amps", 30.0, "compressor_overload"),
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
    value as its override. The worker's stored alerts must equal the preview's counts."""
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
    with_current = _stored_alerts(current_device.device_id, rule)
    with_proposed = _stored_alerts(proposed_device.device_id, rule)
    assert with_proposed > with_current > 0  # the readings tell the two values apart

    preview = preview_parameter(
        device_id=current_device.device_id,
        current=Thresholds(),
        parameter=parameter,
        value=proposed,
        rules=[rule],
        now=now,
    )
    assert (preview.proposed.alerts, preview.current.alerts) == (with_proposed, with_current)
    assert preview.readings == SPAN_MINUTES

    # The API answers the same, for the device in scope, with the sentence the page shows.
    answer = api_as(cast_of_roles()["operator_a"]).post(
        f"/api/v1/devices/{current_device.device_id}/thresholds/{parameter}/preview/",
        {"value": proposed},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["alerts"], body["current_alerts"]) == (with_proposed, with_current)
    assert body["message"] == (
        f"would have raised {with_proposed} alerts in the last 7 days (now: {with_current})"
    )
