"""Shared simulated fleets: healthy, with one fault per faulty device, with harmless events.

Session-scoped: simulating them is most of the suite's time.
"""

from dataclasses import dataclass

import pandas as pd
import pytest

from fleetmon.simulator.events import EventSpec, EventType
from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.fleet import FleetLayout, make_fleet
from fleetmon.simulator.generator import FleetGenerator
from tests.simulator.helpers import (
    DAY,
    DAYS,
    DEVICES,
    SEED,
    T0,
    build_events,
    build_faults,
    healthy_generator,
)


@dataclass
class Run:
    generator: FleetGenerator
    frame: pd.DataFrame


@pytest.fixture(scope="session")
def fleet() -> FleetLayout:
    return make_fleet(DEVICES, seed=SEED)


@pytest.fixture(scope="session")
def healthy_raw(fleet) -> pd.DataFrame:
    """Three healthy days with ground truth, no events, no random nulls."""
    return healthy_generator(fleet).frame(T0, T0 + DAYS * DAY, with_state=True)


@pytest.fixture(scope="session")
def healthy(healthy_raw) -> pd.DataFrame:
    """The healthy days with the rare minutes a link gap swallowed filled with the device's
    previous reading, so time series here have one row a minute."""
    frame = healthy_raw.copy()
    sensors = [c for c in frame.columns if c not in ("device_id", "timestamp")]
    frame[sensors] = frame.groupby("device_id", sort=False)[sensors].ffill()
    return frame


@pytest.fixture(scope="session")
def faults(fleet) -> dict[FaultType, FaultSpec]:
    return build_faults(fleet)


@pytest.fixture(scope="session")
def faulty(fleet, faults) -> Run:
    """The same three days with one fault per faulty device."""
    generator = FleetGenerator(fleet, list(faults.values()), seed=SEED, events=(), null_rate=0.0)
    return Run(generator, generator.frame(T0, T0 + DAYS * DAY, with_state=True))


@pytest.fixture(scope="session")
def events(fleet, faults) -> dict[EventType, EventSpec]:
    return build_events(fleet, faults)


@pytest.fixture(scope="session")
def eventful(fleet, events) -> pd.DataFrame:
    """The same three days with one harmless event of each type."""
    generator = FleetGenerator(fleet, [], seed=SEED, events=list(events.values()), null_rate=0.0)
    return generator.frame(T0, T0 + DAYS * DAY, with_state=True)
