"""A small recorded history for training tests, independent of the simulator.

Readings are plain seeded noise around per-equipment operating points (no faults, no
defrost), backfilled through the real ingest contract, and turned into C3 windows by the
real feature SQL. A cohort can lack the vibration and humidity sensors entirely, as older
units do. The regression set is made from the history's own windows: copies of healthy
windows ("normal") and copies with a clear acute signature.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from fleetmon.registry.models import Cohort, Device, Site
from fleetmon.sensors import SENSOR_NAMES
from quality.checks.readings import batch_from_frame
from quality.ingest import ingest_batch
from scoring.features import FEATURE_NAMES
from scoring.models import DeviceFeatures, RegressionFeatures
from scoring.services.features import features_compute
from scoring.services.validation import REGRESSION_DATASET

END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LACKING = ("vibration_compressor", "humidity")
# Operating points by equipment model (mean, noise std); unlisted sensors use BASE.
BASE = {
    "temperature_evaporator": (-25.0, 1.0),
    "temperature_condenser": (40.0, 1.5),
    "temperature_ambient": (22.0, 1.0),
    "temperature_discharge": (75.0, 2.0),
    "temperature_suction": (-12.0, 1.0),
    "pressure_high_side": (1550.0, 40.0),
    "pressure_low_side": (200.0, 8.0),
    "current_compressor": (15.0, 0.6),
    "vibration_compressor": (3.0, 0.3),
    "humidity": (60.0, 3.0),
    "superheat": (7.0, 0.6),
    "subcooling": (5.0, 0.5),
}
EQUIPMENT = {
    "WF-5HP": {},
    "DC-2HP": {
        "temperature_evaporator": (-6.0, 1.0),
        "temperature_suction": (2.0, 1.0),
        "pressure_low_side": (380.0, 10.0),
        "current_compressor": (6.0, 0.3),
    },
}


def register_fleet(cohorts: dict[str, int], *, zone: str = "temperate") -> dict[str, list[str]]:
    """Register `count` devices per equipment model at one site; return their ids by model."""
    site, _ = Site.objects.get_or_create(
        site_id="SITE-US-HIS-0001",
        defaults={"site_name": "History store", "region": "US-W", "climate_zone": zone},
    )
    out = {}
    for model, count in cohorts.items():
        cohort, _ = Cohort.objects.get_or_create(
            cohort_id=Cohort.id_for(model, zone),
            defaults={"equipment_model": model, "climate_zone": zone},
        )
        out[model] = [
            Device.objects.create(
                device_id=f"REF-HIS-{model[:2]}{i:05d}",
                site=site,
                cohort=cohort,
                region="US-W",
                equipment_model=model,
                install_date=date(2019, 5, 1),
                firmware_version="3.1.0",
            ).device_id
            for i in range(count)
        ]
    return out


def readings(
    device_ids: list[str], model: str, *, start: datetime, end: datetime, seed: int, lacking=()
) -> pd.DataFrame:
    """One reading a minute per device in [start, end), as ingest columns."""
    rng = np.random.default_rng(seed)
    minutes = int((end - start) / timedelta(minutes=1))
    stamps = pd.date_range(start, periods=minutes, freq="min")
    n = minutes * len(device_ids)
    frame = pd.DataFrame(
        {
            "device_id": np.repeat(device_ids, minutes),
            "timestamp": np.tile(stamps, len(device_ids)),
        }
    )
    for sensor, (mean, std) in {**BASE, **EQUIPMENT[model]}.items():
        if sensor in lacking:
            continue
        offset = rng.normal(0, std / 3, len(device_ids))  # each unit a little different
        frame[sensor] = mean + np.repeat(offset, minutes) + rng.normal(0, std, n)
    frame["door_open_close"] = (rng.random(n) < 0.02).astype(float)
    frame["defrost_cycle"] = 0.0
    return frame.reindex(columns=["device_id", "timestamp", *SENSOR_NAMES])


def backfill_history(
    fleet: dict[str, list[str]],
    *,
    hours: float,
    end: datetime = END,
    lacking: dict[str, tuple[str, ...]] | None = None,
    seed: int = 7,
    daily: bool = False,
) -> None:
    """Backfill `hours` of readings up to `end` and compute their windows (15 min; with
    `daily`, the hours and the trailing days too)."""
    start = end - timedelta(hours=hours)
    for k, (model, ids) in enumerate(fleet.items()):
        frame = readings(
            ids, model, start=start, end=end, seed=seed + k, lacking=(lacking or {}).get(model, ())
        )
        for chunk in range(0, len(frame), 20_000):
            part = frame.iloc[chunk : chunk + 20_000]
            ingest_batch(batch=batch_from_frame(part), received_at=end, backfill=True, stream=False)
    features_compute(minutes=15, start=start, end=end)
    if daily:  # trailing days are composed from the hour windows
        features_compute(minutes=60, start=start, end=end)
        features_compute(minutes=1440, start=start, end=end)


def plant(device_id: str, window_end: datetime, **shift: float) -> None:
    """Shift features of one stored 15-minute window (an anomaly in the history)."""
    row = DeviceFeatures.objects.get(
        device_id=device_id, window_duration_minutes=15, window_end=window_end
    )
    for name, delta in shift.items():
        setattr(row, name, getattr(row, name) + delta)
    row.save()


ACUTE = {  # an acute signature on the features of a 15-minute window
    "temp_evaporator_mean": 25.0,
    "temp_evaporator_min": 25.0,
    "temp_evaporator_max": 25.0,
    "current_compressor_mean": 20.0,
    "current_compressor_max": 20.0,
}


def regression_set_from_history(*, normal: int = 30, acute: int = 12, visible: bool = True) -> int:
    """Store a regression set of copies of the history's latest windows.

    `normal` copies as they are; `acute` copies labelled cooling_loss / compressor_overload,
    with the ACUTE signature when `visible` (else unchanged: anomalies a model cannot see).
    """
    latest = pd.DataFrame(
        DeviceFeatures.objects.filter(window_duration_minutes=15)
        .order_by("device_id", "-window_end")
        .values("device_id", "window_start", "window_end", *FEATURE_NAMES)
    ).drop_duplicates("device_id")
    cohorts = dict(Device.objects.values_list("device_id", "cohort_id"))
    rows = []
    for i in range(normal + acute):
        source = latest.iloc[i % len(latest)]
        values = {n: (None if pd.isna(source[n]) else float(source[n])) for n in FEATURE_NAMES}
        case = "normal"
        if i >= normal:
            case = ("cooling_loss", "compressor_overload")[i % 2]
            if visible:
                values |= {n: values[n] + d for n, d in ACUTE.items() if values[n] is not None}
        rows.append(
            RegressionFeatures(
                dataset=REGRESSION_DATASET,
                device_id=f"REG-{i:05d}",
                cohort_id=cohorts[source["device_id"]],
                case=case,
                window_start=source["window_start"],
                window_end=source["window_end"],
                values=values,
            )
        )
    RegressionFeatures.objects.bulk_create(rows)
    return len(rows)
