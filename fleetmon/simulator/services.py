"""The simulator's writes: register a synthetic fleet, record its faults, backfill history.

Backfill goes through the same contract code as the API (`quality.ingest.ingest_batch`),
chunk by chunk, each chunk "received" at its end so history looks as if it had arrived live.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from fleetmon.readings.models import RawSensorReading
from fleetmon.registry.models import Cohort, Device, Site
from fleetmon.simulator.faults import FaultSpec, plan_faults
from fleetmon.simulator.fleet import FleetLayout, make_fleet
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.models import FaultInjection
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
    rows = FaultInjection.objects.filter(seed=seed, device_id__in=device_ids)
    return [FaultSpec(r.device_id, r.fault_type, r.started_at, r.ended_at, r.params) for r in rows]


def simulation_prepare(
    *, devices: int, seed: int, start: datetime, end: datetime, fault_fraction: float
) -> FleetGenerator:
    """Register the synthetic fleet, plan its faults once, and return its generator.

    Faults are planned on the first call for a seed and read back afterwards, so a
    backfill and a later live stream of the same fleet agree on the ground truth.
    """
    layout = make_fleet(devices, seed=seed)
    fleet_register(layout=layout)
    ids = {d.device_id for d in layout.devices}
    faults = recorded_faults(seed=seed, device_ids=ids)
    if not faults:
        faults = plan_faults(layout, seed=seed, start=start, end=end, fraction=fault_fraction)
        faults_record(faults=faults, seed=seed)
    return FleetGenerator(layout, faults, seed=seed)


def backfill(
    *,
    generator: FleetGenerator,
    start: datetime,
    end: datetime,
    chunk: timedelta = timedelta(hours=1),
    progress: Callable[[datetime, IngestResult], None] | None = None,
) -> IngestResult:
    """Write simulated readings for [start, end) through the contract, chunk by chunk.

    Resumes after the newest reading already stored for this fleet, so a second call
    costs little.
    """
    ids = [d.device_id for d in generator.fleet.devices]
    newest = RawSensorReading.objects.filter(
        device_id__in=ids[:50], timestamp_utc__gte=start, timestamp_utc__lt=end
    ).aggregate(newest=Max("timestamp_utc"))["newest"]
    if newest is not None:
        start = max(start, newest - chunk)  # redo the last chunk: it may have been cut short
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
    return total
