"""The simulated fleet in the database: registry, ground truth, backfill, live HTTP stream."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pandas as pd
import pytest

from fleetmon.readings.models import CleanSensorReading, RawSensorReading
from fleetmon.registry.models import Cohort, Device, Site
from fleetmon.registry.services import fleet_token_create
from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.generator import FleetGenerator, to_messages
from fleetmon.simulator.live import stream_live
from fleetmon.simulator.models import FaultInjection, SimulatedEvent, SimulatedFleet
from fleetmon.simulator.services import (
    backfill,
    faults_record,
    recorded_events,
    simulation_prepare,
)
from quality.models import DeadLetterSensorReading

pytestmark = pytest.mark.storage
START = datetime(2026, 11, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.django_db
def test_prepare_registers_the_fleet_and_keeps_its_ground_truth():
    gen = simulation_prepare(
        devices=60, seed=7, start=START, end=START + timedelta(days=3), fault_fraction=0.2
    )
    assert Device.objects.count() == 60
    assert Site.objects.count() == len(gen.fleet.sites)
    assert Cohort.objects.count() == len(gen.fleet.cohorts())
    device = Device.objects.get(pk=gen.fleet.devices[0].device_id)
    assert device.cohort_id == f"{device.equipment_model}/{device.site.climate_zone}"
    fleet = SimulatedFleet.objects.get(seed=7, devices=60)
    assert fleet.origin == START == gen.origin
    labels = FaultInjection.objects.count()
    assert labels >= 12
    assert FaultInjection.objects.filter(failure_at__isnull=False).count() == 0
    events = SimulatedEvent.objects.filter(fleet=fleet).count()
    assert events > 100  # restocking, deliveries and glitches over three days
    assert {"restocking", "sensor_glitch", "hot_afternoon", "site_power_loss"} <= set(
        SimulatedEvent.objects.values_list("event_type", flat=True)
    )

    again = simulation_prepare(
        devices=60,
        seed=7,
        start=START + timedelta(days=1),
        end=START + timedelta(days=3),
        fault_fraction=0.2,
    )
    assert FaultInjection.objects.count() == labels  # planned once, read back after
    assert SimulatedEvent.objects.count() == events
    assert again.origin == START  # the first preparation fixed the trajectory
    assert sorted(f.device_id for f in again.faults) == sorted(
        FaultInjection.objects.values_list("device_id", flat=True)
    )
    assert list(again.events) == recorded_events(fleet=fleet)


@pytest.mark.django_db
def test_a_later_horizon_plans_the_routine_events_it_lacks():
    prepare = {"devices": 20, "seed": 8, "start": START, "fault_fraction": 0.1}
    simulation_prepare(**prepare, end=START + HOUR * 24)
    fleet = SimulatedFleet.objects.get(seed=8)
    before = fleet.events.count()
    assert fleet.events.filter(event_type="site_power_loss").count() == 2
    simulation_prepare(**prepare, end=START + HOUR * 72)
    fleet.refresh_from_db()
    assert fleet.events_until == START + HOUR * 72
    later = fleet.events.filter(started_at__gte=START + HOUR * 24)
    assert fleet.events.count() > before and later.exists()
    assert not later.filter(event_type__in=["hot_afternoon", "site_power_loss"]).exists()


@pytest.mark.django_db
def test_a_fault_free_fleet_is_a_quiet_one_unless_asked():
    simulation_prepare(devices=20, seed=9, start=START, end=START + HOUR * 24, fault_fraction=0)
    quiet = SimulatedFleet.objects.get(seed=9).events
    assert quiet.filter(event_type="restocking").exists()
    assert not quiet.filter(event_type__in=["hot_afternoon", "site_power_loss"]).exists()
    simulation_prepare(
        devices=24, seed=9, start=START, end=START + HOUR * 24, fault_fraction=0, rare_events=True
    )
    lively = SimulatedFleet.objects.get(seed=9, devices=24).events
    assert lively.filter(event_type="hot_afternoon").count() == 2


@pytest.mark.django_db
def test_backfill_writes_history_through_the_contract_and_resumes():
    gen = simulation_prepare(
        devices=20, seed=3, start=START, end=START + timedelta(days=1), fault_fraction=0
    )
    end = START + 2 * HOUR
    first = backfill(generator=gen, start=START, end=end, chunk=timedelta(minutes=30))
    expected = len(gen.frame(START, end))
    assert first.accepted + first.dead_lettered == expected
    assert CleanSensorReading.objects.count() == first.accepted

    second = backfill(generator=gen, start=START, end=end, chunk=timedelta(minutes=30))
    assert second.accepted == 0  # only the last chunk is redone, as duplicates
    assert RawSensorReading.objects.count() == expected


@pytest.mark.django_db
def test_backfill_records_the_failure_points_it_simulated():
    gen = simulation_prepare(
        devices=12, seed=5, start=START, end=START + timedelta(days=1), fault_fraction=0
    )
    victim = next(d for d in gen.fleet.devices if d.equipment_model in ("DC-2HP", "DF-3HP"))
    dead = FaultSpec(victim.device_id, FaultType.COOLING_LOSS, START + HOUR, START + 4 * HOUR, {})
    faults_record(faults=[dead], seed=5)
    gen = FleetGenerator(gen.fleet, [dead], seed=5, origin=START)
    backfill(generator=gen, start=START, end=START + 5 * HOUR, chunk=HOUR)
    failure = gen.failure_points()[dead]
    assert failure is not None and START + HOUR < failure < START + 4 * HOUR
    assert FaultInjection.objects.get(device_id=victim.device_id).failure_at == failure
    overloaded = CleanSensorReading.objects.filter(
        device_id=victim.device_id,
        timestamp_utc__gte=START + HOUR + timedelta(minutes=2),
        timestamp_utc__lt=START + 4 * HOUR,
    )
    assert overloaded.exists() and not overloaded.filter(current_compressor__gt=1.0).exists()


@pytest.mark.django_db
def test_a_new_process_continues_the_backfilled_trajectory_seamlessly():
    end = START + 3 * HOUR
    backfilling = simulation_prepare(
        devices=20, seed=4, start=START, end=START + timedelta(days=1), fault_fraction=0.3
    )
    backfill(generator=backfilling, start=START, end=end, chunk=HOUR)
    # A later `simulate_fleet live`: a fresh generator prepared from the stored fleet.
    live = simulation_prepare(
        devices=20, seed=4, start=end, end=end + timedelta(days=1), fault_fraction=0.3
    )
    assert live is not backfilling and live.origin == START
    nxt = live.frame(end, end + timedelta(minutes=3))
    pd.testing.assert_frame_equal(
        nxt, backfilling.frame(end, end + timedelta(minutes=3)), check_exact=True
    )
    last = end - timedelta(minutes=1)
    stored = RawSensorReading.objects.filter(timestamp_utc=last).order_by("device_id")
    replayed = live.frame(last, end)
    assert list(stored.values_list("device_id", flat=True)) == list(replayed["device_id"])
    evaporator = [r.temperature_evaporator for r in stored]
    assert pd.Series(evaporator, dtype=float).equals(
        replayed["temperature_evaporator"].reset_index(drop=True)
    )


def test_live_stream_goes_through_the_http_api_into_the_database(asgi_server):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    gen = simulation_prepare(
        devices=30, seed=11, start=now - 2 * HOUR, end=now + HOUR, fault_fraction=0
    )
    _, token = fleet_token_create(name="sim")
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
