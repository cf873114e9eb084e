"""The simulated fleet in the database: registry, ground truth, backfill, live HTTP stream."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from fleetmon.readings.models import CleanSensorReading, RawSensorReading
from fleetmon.registry.models import Cohort, Device, Site
from fleetmon.registry.services import fleet_token_create
from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.generator import FleetGenerator, to_messages
from fleetmon.simulator.live import stream_live
from fleetmon.simulator.models import FaultInjection
from fleetmon.simulator.services import backfill, simulation_prepare
from quality.models import DeadLetterSensorReading

pytestmark = pytest.mark.storage
START = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.django_db
def test_prepare_registers_the_fleet_and_keeps_its_faults_as_ground_truth():
    gen = simulation_prepare(
        devices=60, seed=7, start=START, end=START + timedelta(days=3), fault_fraction=0.2
    )
    assert Device.objects.count() == 60
    assert Site.objects.count() == len(gen.fleet.sites)
    assert Cohort.objects.count() == len(gen.fleet.cohorts())
    device = Device.objects.get(pk=gen.fleet.devices[0].device_id)
    assert device.cohort_id == f"{device.equipment_model}/{device.site.climate_zone}"
    labels = FaultInjection.objects.count()
    assert labels >= 12

    again = simulation_prepare(
        devices=60, seed=7, start=START, end=START + timedelta(days=3), fault_fraction=0.2
    )
    assert FaultInjection.objects.count() == labels  # planned once, read back after
    assert sorted(f.device_id for f in again.faults) == sorted(
        FaultInjection.objects.values_list("device_id", flat=True)
    )


@pytest.mark.django_db
def test_backfill_writes_history_through_the_contract_and_resumes():
    gen = simulation_prepare(
        devices=20, seed=3, start=START, end=START + timedelta(days=1), fault_fraction=0
    )
    end = START + timedelta(hours=2)
    first = backfill(generator=gen, start=START, end=end, chunk=timedelta(minutes=30))
    expected = len(gen.frame(START, end))
    assert first.accepted + first.dead_lettered == expected
    assert CleanSensorReading.objects.count() == first.accepted

    second = backfill(generator=gen, start=START, end=end, chunk=timedelta(minutes=30))
    assert second.accepted == 0  # only the last chunk is redone, as duplicates
    assert RawSensorReading.objects.count() == expected


@pytest.mark.django_db
def test_backfilled_faults_show_in_the_clean_readings():
    gen = simulation_prepare(
        devices=10, seed=5, start=START, end=START + timedelta(days=1), fault_fraction=0
    )
    victim = gen.fleet.devices[0].device_id
    gen = FleetGenerator(
        gen.fleet,
        [
            FaultSpec(
                victim,
                FaultType.COMPRESSOR_OVERLOAD,
                START + timedelta(minutes=30),
                START + timedelta(hours=1),
            ),
            FaultSpec(
                gen.fleet.devices[1].device_id,
                FaultType.INTERMITTENT_DROPOUT,
                START,
                START + timedelta(hours=1),
            ),
        ],
        seed=5,
    )
    backfill(generator=gen, start=START, end=START + timedelta(hours=1))
    overloaded = CleanSensorReading.objects.filter(device_id=victim, current_compressor__gt=40)
    assert overloaded.exists()
    assert overloaded.order_by("timestamp_utc").first().timestamp_utc >= START + timedelta(
        minutes=30
    )
    assert (
        DeadLetterSensorReading.objects.filter(device_id=gen.fleet.devices[1].device_id).count() > 5
    )


def test_live_stream_goes_through_the_http_api_into_the_database(asgi_server):
    gen = simulation_prepare(
        devices=30, seed=11, start=START, end=START + timedelta(days=1), fault_fraction=0
    )
    _, token = fleet_token_create(name="sim")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    minutes = []
    stream_live(
        generator=gen,
        url=f"{asgi_server}/api/v1/ingest/",
        token=token,
        start=now,
        speed=1e9,
        batch_size=25,
        minutes=3,
        on_minute=lambda minute, totals: minutes.append(totals),
    )
    expected = len(gen.frame(now, now + timedelta(minutes=3)))
    stored = CleanSensorReading.objects.count() + DeadLetterSensorReading.objects.count()
    assert stored == expected == sum(t["accepted"] + t["dead_lettered"] for t in minutes)

    replay = to_messages(gen.frame(now, now + timedelta(minutes=1)), gen.fleet)
    answer = httpx.post(
        f"{asgi_server}/api/v1/ingest/",
        content=orjson.dumps(replay),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    ).json()
    assert answer["duplicates"] == len(replay) and answer["accepted"] == 0
