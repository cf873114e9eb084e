"""A small simulated fleet with history and features, for training and scoring tests."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.services import backfill, simulation_prepare
from scoring.services.features import features_compute

END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def scoring_settings(settings, tmp_path):
    settings.FLEETMON_ARTIFACT_DIR = str(tmp_path / "artifacts")
    settings.FLEETMON_TRAINING_GAP_HOURS = 1
    settings.FLEETMON_VALIDATION_HOURS = 2
    settings.FLEETMON_SCORING_SHARD_SIZE = 20
    return settings


def build_history(*, devices: int, hours: int, seed: int = 21, faults=None, end=END):
    """Backfill `hours` of readings and compute their 15-minute features; return the generator."""
    start = end - timedelta(hours=hours)
    gen = simulation_prepare(devices=devices, seed=seed, start=start, end=end, fault_fraction=0.0)
    if faults is not None:
        gen = FleetGenerator(gen.fleet, faults, seed=seed)
    backfill(generator=gen, start=start, end=end, chunk=timedelta(hours=2))
    features_compute(minutes=15, start=start, end=end)
    return gen
