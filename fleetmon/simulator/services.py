"""The simulator's writes: register a synthetic fleet, keep its ground truth, backfill history.

A fleet (seed, size) is prepared once: its origin, faults and harmless events are stored,
and every later process (a backfill, the live stream) reads them back, so all of them
simulate one trajectory. Backfill goes through the same contract code as the API
(`quality.ingest.ingest_batch`), chunk by chunk, each chunk "received" at its end so
history looks as if it had arrived live.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from fleetmon.readings.models import RawSensorReading
from fleetmon.registry.models import Cohort, Device, Site
from fleetmon.simulator.events import EventSpec, plan_events, routine_events
from fleetmon.simulator.faults import FaultSpec, plan_faults
from fleetmon.simulator.fleet import FleetLayout, epoch_minute, make_fleet
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.models import FaultInjection, SimulatedEvent, SimulatedFleet
from quality.checks.readings import batch_from_frame
from quality.ingest import IngestResult, ingest_batch

logger = logging.getLogger(__name__)


def fleet_register(*, layout: FleetLayout) -> int:
    """Create the layout's sites, cohorts and devices that are not registered yet."""
    with transaction.atomic():
        Site.objects.bulk_create(
            [
                Site(
                    site_id=s.site_id,
                    site_name=s.site_name,
                    address=s.address,
                    region=s.region,
                    climate_zone=s.climate_zone,
                    site_type=s.site_type,
                )
                for s in layout.sites
            ],
            ignore_conflicts=True,
        )
        Cohort.objects.bulk_create(
            [
                Cohort(
                    cohort_id=Cohort.id_for(model, zone), equipment_model=model, climate_zone=zone
                )
                for model, zone in layout.cohorts()
            ],
            ignore_conflicts=True,
        )
        created = Device.objects.bulk_create(
            [
                Device(
                    device_id=d.device_id,
                    site_id=d.site_id,
                    cohort_id=Cohort.id_for(*d.cohort),
                    region=d.region,
                    equipment_model=d.equipment_model,
                    install_date=d.install_date,
                    firmware_version=d.firmware_version,
                )
                for d in layout.devices
            ],
            ignore_conflicts=True,
        )
    return len(created)


def faults_record(*, faults: list[FaultSpec], seed: int) -> None:
    """Keep the injected faults as ground-truth labels (idempotent)."""
    FaultInjection.objects.bulk_create(
        [
            FaultInjection(
                device_id=f.device_id,
                fault_type=str(f.fault_type),
                started_at=f.start,
                ended_at=f.end,
                params=dict(f.params),
                seed=seed,
            )
            for f in faults
        ],
        ignore_conflicts=True,
    )


def recorded_faults(*, seed: int, device_ids: set[str]) -> list[FaultSpec]:
    """Read back the faults planned for a seed on these devices."""
    rows = FaultInjection.objects.filter(seed=seed, device_id__in=device_ids)
    return [FaultSpec(r.device_id, r.fault_type, r.started_at, r.ended_at, r.params) for r in rows]


def failures_record(*, generator: FleetGenerator) -> int:
    """Store the failure points the generator has found so far; return how many changed."""
    changed = 0
    with transaction.atomic():
        for fault, failure in generator.failure_points().items():
            if failure is None:
                continue
            changed += FaultInjection.objects.filter(
                seed=generator.seed,
                device_id=fault.device_id,
                fault_type=str(fault.fault_type),
                started_at=fault.start,
                failure_at__isnull=True,
            ).update(failure_at=failure)
    return changed


def events_record(*, fleet: SimulatedFleet, events: list[EventSpec]) -> None:
    """Keep harmless events as ground truth of a simulated fleet."""
    SimulatedEvent.objects.bulk_create(
        [
            SimulatedEvent(
                fleet=fleet,
                event_type=str(e.event_type),
                site_id=e.site_id,
                device_ids=list(e.device_ids),
                started_at=e.start,
                ended_at=e.end,
                params=dict(e.params),
            )
            for e in events
        ]
    )


def recorded_events(*, fleet: SimulatedFleet) -> list[EventSpec]:
    """Read back a simulated fleet's harmless events."""
    return [
        EventSpec(r.event_type, r.started_at, r.ended_at, r.site_id, tuple(r.device_ids), r.params)
        for r in fleet.events.order_by("started_at", "id")
    ]


def simulation_prepare(
    *,
    devices: int,
    seed: int,
    start: datetime,
    end: datetime,
    fault_fraction: float,
    rare_events: bool | None = None,
) -> FleetGenerator:
    """Register the synthetic fleet, plan its ground truth once, and return its generator.

    1. The first call for (seed, devices) fixes the simulation's origin at `start` and
       plans faults and harmless events over [start, end): routine ones always, rare ones
       (hot afternoons, site power losses) when `rare_events`, which by default follows
       whether faults were asked for (a fault-free fleet is a quiet one).
    2. Later calls read all of it back; if they reach past what was planned, routine
       events are planned for the extra time (rare ones are not).
    3. The generator simulates from the stored origin, so every process that prepares
       this fleet produces the same readings for the same minute.
    """
    layout = make_fleet(devices, seed=seed)
    fleet_register(layout=layout)
    start = start.replace(second=0, microsecond=0)
    with transaction.atomic():
        fleet, created = SimulatedFleet.objects.select_for_update().get_or_create(
            seed=seed, devices=devices, defaults={"origin": start, "events_until": end}
        )
        if created:
            rare = fault_fraction > 0 if rare_events is None else rare_events
            planned = plan_events(
                layout,
                seed=seed,
                start=start,
                end=end,
                hot_afternoons=2 if rare else 0,
                power_losses=2 if rare else 0,
            )
            events_record(fleet=fleet, events=planned)
        elif end > fleet.events_until:
            extra = routine_events(
                layout,
                seed=seed,
                start_min=epoch_minute(fleet.events_until),
                end_min=epoch_minute(end),
            )
            events_record(fleet=fleet, events=extra)
            fleet.events_until = end
            fleet.save(update_fields=["events_until"])
        ids = {d.device_id for d in layout.devices}
        faults = recorded_faults(seed=seed, device_ids=ids)
        if not faults:
            faults = plan_faults(layout, seed=seed, start=start, end=end, fraction=fault_fraction)
            faults_record(faults=faults, seed=seed)
    return FleetGenerator(
        layout, faults, seed=seed, events=recorded_events(fleet=fleet), origin=fleet.origin
    )


def backfill(
    *,
    generator: FleetGenerator,
    start: datetime,
    end: datetime,
    chunk: timedelta = timedelta(hours=1),
    progress: Callable[[datetime, IngestResult], None] | None = None,
) -> IngestResult:
    """Write simulated readings for [start, end) through the contract, chunk by chunk.

    Starts no earlier than the simulation's origin, and resumes after the newest reading
    already stored for this fleet, so a second call costs little. Records the failure
    points the simulation found on the way.
    """
    if generator.origin is not None:
        start = max(start, generator.origin)
    ids = [d.device_id for d in generator.fleet.devices]
    newest = RawSensorReading.objects.filter(
        device_id__in=ids[:50], timestamp_utc__gte=start, timestamp_utc__lt=end
    ).aggregate(newest=Max("timestamp_utc"))["newest"]
    if newest is not None:
        start = max(start, newest - chunk)  # redo the last chunk: it may have been cut short
    start = start.replace(second=0, microsecond=0)
    total = IngestResult()
    cursor = start
    while cursor < end:
        upto = min(cursor + chunk, end)
        frame = generator.frame(cursor, upto)
        result = ingest_batch(batch=batch_from_frame(frame), received_at=upto, stream=False)
        total.add(result)
        if progress:
            progress(upto, result)
        cursor = upto
    failures = failures_record(generator=generator)
    logger.info("backfill %s..%s: %d failure points recorded", start, end, failures)
    return total
