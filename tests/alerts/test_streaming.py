"""Streaming path: ingest -> Redis stream -> rules worker -> alerts, thresholds from the DB."""

from datetime import timedelta

import orjson
import pytest

from alerts.models import DeviceAlert, ThresholdHistory
from alerts.streaming import StreamingWorker, alerts_from_firings
from alerts.thresholds import ThresholdError, effective_thresholds, threshold_set
from fleetmon.streams import GROUP, client, stream_key
from quality.ingest import ingest_messages
from tests.conftest import message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]


@pytest.fixture(autouse=True)
def empty_streams(settings):
    redis = client()
    keys = [stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)]
    redis.delete(*keys)
    yield
    redis.delete(*keys)


def feed(device_id, start, currents):
    """One reading a minute from `start` with these compressor currents."""
    ingest_messages(
        messages=[
            message(device_id, start + timedelta(minutes=i), values={"current_compressor": amps})
            for i, amps in enumerate(currents)
        ],
        received_at=start + timedelta(minutes=len(currents)),
    )


def drain(worker: StreamingWorker) -> None:
    while worker.step():
        pass


def pending(partition_count: int) -> int:
    redis = client()
    return sum(redis.xpending(stream_key(p), GROUP)["pending"] for p in range(partition_count))


def test_an_overload_goes_from_ingest_to_a_critical_alert(devices, now, settings):
    worker = StreamingWorker(consumer="w1", block_ms=50)
    dev = devices[0].device_id
    feed(dev, now - timedelta(minutes=5), [12.0, 12.5, 45.2, 46.0, 47.1])
    drain(worker)

    alert = DeviceAlert.objects.get(device_id=dev)
    assert (alert.severity, alert.source, alert.model_id) == (
        "CRITICAL",
        "streaming",
        "compressor_overload",
    )
    # Persistence: the third reading over the limit (3 of the last 4) raises it.
    assert alert.first_detected_at == now - timedelta(minutes=1)
    event = alert.events.get()
    assert event.details["rule"] == "compressor_overload"
    assert [v for _, v in event.details["evidence"]] == [45.2, 46.0, 47.1]
    assert pending(settings.FLEETMON_STREAM_PARTITIONS) == 0  # acknowledged after commit


def test_a_single_wild_reading_is_a_low_note_not_a_critical_alert(devices, now):
    worker = StreamingWorker(consumer="w1", block_ms=50)
    dev = devices[0].device_id
    ingest_messages(
        messages=[
            message(dev, now - timedelta(minutes=4), values={"current_compressor": 12.0}),
            message(
                dev,
                now - timedelta(minutes=3),
                values={
                    "current_compressor": 47.5,
                    "vibration_compressor": 38.0,
                    "pressure_low_side": 60.0,
                },
            ),
            message(dev, now - timedelta(minutes=2), values={"current_compressor": 12.1}),
        ]
    )
    drain(worker)
    alert = DeviceAlert.objects.get(device_id=dev)
    assert (alert.severity, alert.model_id) == ("LOW", "sensor_spike")
    assert "47.5 A" in alert.description


def test_thresholds_come_from_device_then_cohort_then_default(devices):
    quiet, loud, plain = devices[0], devices[1], devices[2]
    threshold_set(
        parameter="compressor_overload_amps",
        value=30,
        cohort=plain.cohort,
        actor="ana",
        reason="small units",
    )
    threshold_set(
        parameter="compressor_overload_amps",
        value=50,
        device=quiet,
        actor="ana",
        reason="big compressor",
    )
    found = effective_thresholds(device_ids=[quiet.pk, loud.pk])
    assert found[quiet.pk][0].compressor_overload_amps == 50
    assert found[quiet.pk][1]["compressor_overload_amps"] == "device"
    assert found[loud.pk][0].compressor_overload_amps == 30
    assert found[loud.pk][1]["compressor_overload_amps"] == "cohort"
    assert found[loud.pk][1]["door_open_max_minutes"] == "default"


def test_the_worker_uses_an_edited_threshold(devices, now):
    worker = StreamingWorker(consumer="w1", block_ms=50)
    dev = devices[0]
    feed(dev.device_id, now - timedelta(minutes=10), [12.0, 12.0])
    drain(worker)
    threshold_set(
        parameter="compressor_overload_amps", value=20, device=dev, actor="ana", reason="tight"
    )
    feed(dev.device_id, now - timedelta(minutes=5), [25.0, 25.0, 25.0])
    drain(worker)
    assert DeviceAlert.objects.filter(device_id=dev.pk, model_id="compressor_overload").exists()


def test_every_threshold_change_is_kept_with_who_when_and_why(devices):
    dev = devices[0]
    threshold_set(
        parameter="door_open_max_minutes", value=20, device=dev, actor="ana", reason="busy store"
    )
    threshold_set(
        parameter="door_open_max_minutes", value=25, device=dev, actor="bo", reason="still noisy"
    )
    threshold_set(
        parameter="door_open_max_minutes",
        value=None,
        device=dev,
        actor="ana",
        reason="back to default",
    )
    history = list(
        ThresholdHistory.objects.order_by("changed_at", "pk").values_list(
            "old_value", "new_value", "changed_by", "reason"
        )
    )
    assert history == [
        (None, 20.0, "ana", "busy store"),
        (20.0, 25.0, "bo", "still noisy"),
        (25.0, None, "ana", "back to default"),
    ]


@pytest.mark.parametrize(
    ("parameter", "value", "match"),
    [
        ("compressor_overload_amps", 0, "between"),
        ("pressure_drop_fraction", 1.5, "between"),
        ("door_open_max_minutes", -3, "between"),
        ("flux", 3, "unknown parameter"),
    ],
)
def test_impossible_thresholds_are_refused(devices, parameter, value, match):
    with pytest.raises(ThresholdError, match=match):
        threshold_set(parameter=parameter, value=value, device=devices[0], actor="ana", reason="x")


def test_a_repeated_overload_grows_its_active_alert_instead_of_raising_another(devices, now):
    """Item 5 (operator load) with D6: each repeat is stored suppressed and linked, and the
    active alert counts it, records it as an event and moves its last_seen_at."""
    worker = StreamingWorker(consumer="w1", block_ms=50)
    dev = devices[0].device_id
    episode = [45.0, 45.0, 45.0, 12.0, 12.0, 12.0]
    feed(dev, now - timedelta(hours=6), episode)
    # Hours later, the same fault again: past D6's 4 h, but its alert is still open.
    feed(dev, now - timedelta(minutes=30), episode)
    drain(worker)

    active, repeat = DeviceAlert.objects.filter(device_id=dev).order_by("first_detected_at")
    assert (active.suppressed, repeat.suppressed, repeat.suppressed_by_id) == (
        False,
        True,
        active.pk,
    )
    assert active.occurrences == 2
    assert active.last_seen_at == now - timedelta(minutes=28)
    created, repeated = active.events.order_by("pk")
    assert (created.kind, repeated.kind) == ("created", "repeated")
    assert repeated.details["occurrence"] == 2
    assert [v for _, v in repeated.details["evidence"]] == [45.0, 45.0, 45.0]
    assert DeviceAlert.objects.filter(device_id=dev, suppressed=False).count() == 1


def test_after_its_alert_is_resolved_the_same_fault_raises_a_new_alert(devices, now):
    worker = StreamingWorker(consumer="w1", block_ms=50)
    dev = devices[0].device_id
    episode = [45.0, 45.0, 45.0, 12.0, 12.0, 12.0]
    feed(dev, now - timedelta(hours=2), episode)
    drain(worker)
    DeviceAlert.objects.filter(device_id=dev).update(status="resolved")
    feed(dev, now - timedelta(minutes=30), episode)
    drain(worker)
    assert DeviceAlert.objects.filter(device_id=dev, suppressed=False).count() == 2


def test_a_rising_severity_escalates_the_active_alert(devices, now):
    from scoring.streaming.rules import Firing

    dev = devices[0].device_id

    def stuck(severity, minutes):
        at = now + timedelta(minutes=minutes)
        return Firing(
            "defrost_too_long",
            severity,
            dev,
            at,
            "defrost_cycle",
            float(minutes),
            45.0,
            ((now, 1.0), (at, 1.0)),
            f"Defrost running for {minutes} min",
        )

    assert alerts_from_firings([stuck("MEDIUM", 46)], now=now + timedelta(minutes=46)) == 1
    assert alerts_from_firings([stuck("HIGH", 91)], now=now + timedelta(minutes=91)) == 0
    assert alerts_from_firings([stuck("CRITICAL", 181)], now=now + timedelta(minutes=181)) == 0
    alert = DeviceAlert.objects.get(device_id=dev, suppressed=False)
    assert (alert.severity, alert.alert_type, alert.occurrences) == (
        "CRITICAL",
        "ANOMALY_ESCALATED",
        3,
    )
    assert alert.sla_deadline == now + timedelta(minutes=181 + 30)
    steps = [(e.kind, e.details.get("from"), e.details.get("to")) for e in alert.events.all()]
    assert steps == [
        ("created", None, None),
        ("escalated", "MEDIUM", "HIGH"),
        ("escalated", "HIGH", "CRITICAL"),
    ]


def test_a_message_taken_by_a_dead_worker_is_claimed_and_processed(devices, now, settings):
    dev = devices[0].device_id
    feed(dev, now - timedelta(minutes=5), [12.0, 47.0, 47.0, 47.0])
    dead = StreamingWorker(consumer="dead", block_ms=50)
    # The dead worker read the message, then died before doing anything with it.
    taken = dead.redis.xreadgroup(
        GROUP, "dead", {stream_key(p): ">" for p in dead.partitions}, count=10, block=50
    )
    assert taken
    assert not DeviceAlert.objects.exists()

    survivor = StreamingWorker(consumer="survivor", block_ms=50, claim_idle_ms=0)
    drain(survivor)

    assert DeviceAlert.objects.filter(device_id=dev, model_id="compressor_overload").count() == 1
    assert pending(settings.FLEETMON_STREAM_PARTITIONS) == 0


def test_a_message_processed_but_not_acknowledged_raises_nothing_twice(devices, now, settings):
    dev = devices[0].device_id
    feed(dev, now - timedelta(minutes=5), [12.0, 47.0, 47.0, 47.0])
    dead = StreamingWorker(consumer="dead", block_ms=50)
    taken = dead.redis.xreadgroup(
        GROUP, "dead", {stream_key(p): ">" for p in dead.partitions}, count=10, block=50
    )
    for _key, messages in taken:
        for _id, fields in messages:
            readings = [dead_reading for dead_reading in orjson.loads(fields[b"readings"])]
            from alerts.streaming import _reading

            alerts_from_firings(dead.evaluate([_reading(r) for r in readings]))
    # ...and died before XACK.
    assert DeviceAlert.objects.count() == 1

    survivor = StreamingWorker(consumer="survivor", block_ms=50, claim_idle_ms=0)
    drain(survivor)

    assert DeviceAlert.objects.count() == 1
    assert pending(settings.FLEETMON_STREAM_PARTITIONS) == 0


def test_state_is_rebuilt_from_the_database_for_a_new_worker(devices, now):
    """Door open 10 min seen by one worker, 6 more by a fresh one: the fresh one must know."""
    dev = devices[0].device_id
    first = StreamingWorker(consumer="first", block_ms=50)
    ingest_messages(
        messages=[
            message(dev, now - timedelta(minutes=20 - i), values={"door_open_close": True})
            for i in range(10)
        ]
    )
    drain(first)
    assert not DeviceAlert.objects.exists()
    fresh = StreamingWorker(consumer="fresh", block_ms=50)
    ingest_messages(
        messages=[
            message(dev, now - timedelta(minutes=10 - i), values={"door_open_close": True})
            for i in range(7)
        ]
    )
    drain(fresh)
    alert = DeviceAlert.objects.get(device_id=dev)
    assert (alert.model_id, alert.severity) == ("door_open_too_long", "HIGH")


def start_worker(tmp_path, name: str, claim_idle_ms: int):
    import os
    import subprocess
    import sys

    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_streaming_rules", "--name", name]
        + ["--claim-idle-ms", str(claim_idle_ms)],
        env=env,
        stdout=(tmp_path / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.live
def test_killing_a_worker_mid_stream_loses_no_reading_and_duplicates_no_alert(
    devices, now, settings, tmp_path
):
    """50 batches, an overload of every device in batches 10, 25 and 40 (three readings a
    minute apart: persistence): exactly 3 firings per device must be stored, as one visible
    alert and two repeats linked to it, however the worker died in between."""
    import signal
    import time

    worker = start_worker(tmp_path, "doomed", claim_idle_ms=1000)
    start = now - timedelta(hours=30)
    overload_batches = {10, 25, 40}
    try:
        for batch in range(50):
            when = start + timedelta(minutes=35 * batch)
            amps, count = (48.0, 3) if batch in overload_batches else (12.0, 1)
            ingest_messages(
                messages=[
                    message(
                        d.device_id,
                        when + timedelta(minutes=m),
                        values={"current_compressor": amps},
                    )
                    for d in devices
                    for m in range(count)
                ],
                received_at=when + timedelta(minutes=count),
            )
            if batch == 20:
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
                worker = start_worker(tmp_path, "survivor", claim_idle_ms=1000)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            total = DeviceAlert.objects.count()
            if total >= 3 * len(devices) and pending(settings.FLEETMON_STREAM_PARTITIONS) == 0:
                break
            time.sleep(0.5)
        time.sleep(2)  # anything duplicated would land now
    finally:
        worker.terminate()
        worker.wait(10)
    for device in devices:
        alerts = DeviceAlert.objects.filter(
            device_id=device.device_id, model_id="compressor_overload"
        )
        assert alerts.count() == 3, (
            device.device_id,
            list(alerts.values_list("first_detected_at", flat=True)),
        )
        assert alerts.filter(suppressed=False).get().occurrences == 3
    assert pending(settings.FLEETMON_STREAM_PARTITIONS) == 0


def overload_firing(device_id, at):
    from scoring.streaming.rules import Firing

    return Firing(
        "compressor_overload",
        "CRITICAL",
        device_id,
        at,
        "current_compressor",
        47.0,
        40.0,
        ((at, 47.0),),
        "Compressor current 47.0 A above 40 A",
    )


def test_a_burst_of_critical_alerts_at_one_site_becomes_one_storm(now, settings, admin_client):
    from alerts.models import StormIncident
    from tests.conftest import register_devices

    settings.FLEETMON_STORM_SITE_THRESHOLD = 10
    site = register_devices(12, region="US-W", site_no=7)
    alerts_from_firings([overload_firing(d.device_id, now) for d in site[:10]])
    assert not StormIncident.objects.exists()  # 10 is not more than 10
    alerts_from_firings(
        [overload_firing(d.device_id, now + timedelta(minutes=1)) for d in site[10:]]
    )

    storm = StormIncident.objects.get()
    assert (storm.scope, storm.site_id, storm.alert_count) == ("site", site[0].site_id, 12)
    assert DeviceAlert.objects.filter(storm=storm).count() == 12
    items = admin_client.get("/api/v1/storms/").json()
    assert [(i["id"], i["alert_count"], i["runbook_url"]) for i in items] == [
        (storm.pk, 12, "/runbooks/streaming-alert-storm/")
    ]
    assert b"Real event or miscalibration" in admin_client.get(items[0]["runbook_url"]).content


def test_alerts_spread_over_sites_make_a_fleet_storm(now, settings):
    from alerts.models import StormIncident
    from tests.conftest import register_devices

    settings.FLEETMON_STORM_FLEET_THRESHOLD = 5
    devices = [d for n in range(1, 4) for d in register_devices(2, region="US-E", site_no=n)]
    alerts_from_firings([overload_firing(d.device_id, now) for d in devices])
    storm = StormIncident.objects.get()
    assert (storm.scope, storm.alert_count) == ("fleet", 6)


def test_alerts_minutes_apart_are_no_storm(now, settings):
    from alerts.models import StormIncident
    from tests.conftest import register_devices

    settings.FLEETMON_STORM_SITE_THRESHOLD = 2
    site = register_devices(3, region="US-W", site_no=8)
    for i, d in enumerate(site):
        alerts_from_firings([overload_firing(d.device_id, now + timedelta(minutes=10 * i))])
    assert not StormIncident.objects.exists()
