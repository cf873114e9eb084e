"""Sensor history for charts: downsampled in SQL, scoped, bounded."""

from datetime import timedelta

import pytest

from fleetmon.accounts.models import Profile
from fleetmon.readings.history import MAX_POINTS, bucket_for, sensor_history
from quality.ingest import ingest_messages
from tests.conftest import message, register_devices

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(hours=1), 1),
        (timedelta(hours=24), 2),
        (timedelta(days=7), 15),
        (timedelta(days=30), 60),
    ],
)
def test_the_bucket_keeps_any_range_under_the_point_budget(span, bucket, now):
    assert bucket_for(now - span, now) == bucket
    assert span / timedelta(minutes=bucket) <= MAX_POINTS


def test_buckets_hold_the_mean_and_the_defrost_and_door_shares(now):
    device = register_devices(1)[0]
    start = now - timedelta(minutes=240)
    readings = [
        message(
            device.device_id,
            start + timedelta(minutes=i),
            values={
                "temperature_evaporator": float(i),
                "defrost_cycle": i % 4 == 0,
                "door_open_close": False,
            },
        )
        for i in range(240)
    ]
    ingest_messages(messages=readings)
    history = sensor_history(device_id=device.device_id, start=start, end=now)
    assert history.bucket_minutes == 1  # 240 minutes fit in 720 points
    coarse = sensor_history(device_id=device.device_id, start=now - timedelta(days=2), end=now)
    assert coarse.bucket_minutes == 5
    # Buckets are clock-aligned: find the one holding minutes 0-4 of `start` if aligned.
    by_time = dict(zip(coarse.times, coarse.values["temperature_evaporator"], strict=True))
    first_full = next(t for t in coarse.times if t >= start)
    offset = int((first_full - start) / timedelta(minutes=1))
    assert by_time[first_full] == pytest.approx(offset + 2.0)  # mean of offset..offset+4
    shares = dict(zip(coarse.times, coarse.defrost, strict=True))
    defrosting = sum(1 for i in range(offset, offset + 5) if i % 4 == 0)
    assert shares[first_full] == pytest.approx(defrosting / 5)
    assert set(coarse.door_open) == {0.0}


def test_the_history_api_is_scoped_and_validated(client, django_user_model, now):
    west = register_devices(1, region="US-W", site_no=1)[0]
    east = register_devices(1, region="US-E", site_no=2)[0]
    user = django_user_model.objects.create_user("ann", password="pw")
    Profile.objects.create(user=user, role="operator", regions=["US-W"])
    client.force_login(user)
    ok = client.get(f"/api/v1/devices/{west.device_id}/history/", {"range": "30d"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["bucket_minutes"] == 60
    assert [f["id"] for f in body["figures"]] == [
        "temperatures",
        "pressures",
        "compressor",
        "humidity",
    ]
    assert client.get(f"/api/v1/devices/{east.device_id}/history/").status_code == 404
    bad = client.get(f"/api/v1/devices/{west.device_id}/history/", {"range": "1y"})
    assert bad.status_code == 400 and "range" in bad.json()
    backwards = client.get(
        f"/api/v1/devices/{west.device_id}/history/",
        {"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()},
    )
    assert backwards.status_code == 400 and "end" in backwards.json()


def test_a_range_without_readings_says_so_instead_of_drawing_empty_axes(now):
    from fleetmon.readings.charts import sensor_figures

    device = register_devices(1)[0]
    history = sensor_history(device_id=device.device_id, start=now - timedelta(hours=1), end=now)
    figure = sensor_figures(history)[0]["figure"]
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["No readings in this range"]
