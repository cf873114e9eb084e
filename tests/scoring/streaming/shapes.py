"""Reading sequences built from the physics (physics.md §1, §2), not from any simulator.

`Unit` is a tiny first-order model of one refrigerated box, stepped a minute at a time:
a thermostat with a dead band runs and rests the compressor; the coil follows the box air
(running: a temperature difference below it; resting: towards it, exponentially); the low
side follows the coil's saturation while running, equalises towards a higher value while
resting and is pulled down again at every restart; current runs high while the coil is
warm (restart and post-defrost pull-downs); defrosts heat the coil with the compressor
off. Faults and harmless events are conditions of `run`. Every figure is a typical value
from physics.md, set per unit so tests can vary them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scoring.streaming import Reading

T0 = datetime(2025, 1, 6, tzinfo=UTC)


@dataclass
class Unit:
    """One box with its compressor, coil and sensors; `run` returns its readings."""

    device_id: str = "dev-1"
    start: datetime = T0
    seed: int = 1
    setpoint: float = -20.0  # box air, °C (a freezer)
    band: float = 1.5  # thermostat dead band, K
    td: float = 7.0  # coil below box air while running, K
    ambient: float = 22.0
    ambient_swing: float = 4.0  # K either side over the day, hottest mid-afternoon
    tau_box: float = 300.0  # min: box air towards ambient with no cooling
    cool_rate: float = 0.22  # K/min the running compressor takes out of the box air
    tau_coil: float = 3.0  # min: resting coil towards box air
    tau_pull: float = 1.2  # min: running coil towards box air minus td
    run_amps: float = 12.0
    off_amps: float = 0.15
    lp_nominal: float = 300.0  # kPa at the nominal running coil
    lp_per_k: float = 8.0  # kPa per K of coil (saturation slope)
    equalised: float = 1.55  # resting low side rises towards this multiple of nominal
    tau_equalise: float = 6.0  # min
    tau_lp: float = 0.8  # min: running low side towards saturation (pull-down 1-3 min)
    vibration: float = 3.0  # mm/s running
    defrost_every_h: float | None = 6.0  # None: this unit never defrosts
    defrost_minutes: int = 30
    drip_minutes: int = 3
    heater_c: float = 10.0  # coil target while defrosting
    capacity_control: bool = False  # a rack that runs continuously, holding the setpoint
    reports_box: bool = False  # a box air probe (none of the 14 sensors is one)
    minute: int = 0
    box: float = field(default=0.0)
    coil: float = field(default=0.0)
    lp: float = field(default=0.0)
    running: bool = True
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        """Start in a steady run near the setpoint."""
        self.rng = random.Random(self.seed)
        self.box = self.setpoint
        self.coil = self.setpoint - self.td
        self.lp = self.lp_nominal
        self._drip = 0

    # ------------------------------------------------------------------ physics

    def _saturation(self, coil: float) -> float:
        return self.lp_nominal + self.lp_per_k * (coil - (self.setpoint - self.td))

    def _scheduled_defrost(self) -> bool:
        if self.defrost_every_h is None:
            return False
        period = int(self.defrost_every_h * 60)
        return (self.minute + period // 2) % period < self.defrost_minutes

    def step(
        self,
        *,
        door: bool = False,
        defrost: bool | None = None,
        dead: bool = False,
        not_pumping: bool = False,
        overload: float = 1.0,
        low_side: float = 1.0,
        heater_c: float | None = None,
        powered: bool = True,
    ) -> dict[str, float | bool | None]:
        """Advance one minute and return the sensor values at its end."""
        defrosting = self._scheduled_defrost() if defrost is None else defrost
        if defrosting:
            self._drip = self.drip_minutes
        elif self._drip:
            self._drip -= 1
        held_off = defrosting or self._drip > 0 or dead or not powered
        if held_off:
            self.running = False
        elif self.capacity_control:
            self.running = True
        elif self.box >= self.setpoint + self.band / 2:
            self.running = True
        elif self.box <= self.setpoint - self.band / 2:
            self.running = False
        cooling = self.running and not not_pumping and low_side >= 0.9
        # Box air: cooled while the compressor pumps, else towards ambient; a door or a
        # heater adds heat fast.
        hour = (self.start + timedelta(minutes=self.minute)).hour + self.minute % 60 / 60
        ambient = self.ambient + self.ambient_swing * math.sin(2 * math.pi * (hour - 9) / 24)
        leak = (ambient - self.box) / self.tau_box
        if cooling and self.capacity_control:
            self.box += leak + (self.setpoint - self.box - leak) * 0.3  # capacity follows load
        else:
            self.box += leak - (self.cool_rate if cooling else 0.0)
        if self.running and low_side < 0.9:
            self.box -= 0.3 * self.cool_rate  # a starved coil keeps a little capacity
        if door:
            self.box += 0.35
        if defrosting:
            self.box += 0.05
        # Coil: pulled below the box while cooling, else towards the box (or the heater).
        if defrosting:
            target, tau = heater_c if heater_c is not None else self.heater_c, 4.0
        elif cooling:
            target, tau = self.box - self.td, self.tau_pull
        else:
            target, tau = self.box, self.tau_coil if powered else 3 * self.tau_coil
        self.coil += (target - self.coil) * (1 - math.exp(-1 / tau))
        # Low side: saturation while running, equalising at rest.
        if self.running:
            target, tau = self._saturation(self.coil) * low_side, self.tau_lp
        else:
            target, tau = self.equalised * self.lp_nominal, self.tau_equalise
        self.lp += (target - self.lp) * (1 - math.exp(-1 / tau))
        self.minute += 1
        noise = self.rng.gauss
        warm = max(0.0, self.coil - (self.box - self.td))
        if self.running and not_pumping:
            amps = 0.6 * self.run_amps
        elif self.running:
            # Current runs high while the coil is warm (pull-downs), up to about 1.45x.
            amps = self.run_amps * (1 + min(0.45, 0.03 * warm)) * overload
        else:
            amps = self.off_amps
        values: dict[str, float | bool | None] = {
            "current_compressor": max(0.0, amps * (1 + noise(0, 0.02))),
            "pressure_low_side": self.lp + noise(0, 3.0),
            "temperature_evaporator": self.coil + noise(0, 0.15),
            "vibration_compressor": (self.vibration if self.running else 0.05)
            * (1 + noise(0, 0.05)),
            "door_open_close": door,
            "defrost_cycle": defrosting,
        }
        if self.reports_box:
            values["temperature_box"] = self.box + noise(0, 0.1)
        return values

    # ------------------------------------------------------------------ readings

    def at(self, minute: int) -> datetime:
        return self.start + timedelta(minutes=minute)

    def run(self, minutes: int, **conditions) -> list[Reading]:
        """`minutes` readings, a minute apart, under `conditions` (see `step`).

        `powered=False` is a power loss: the physics goes on, no reading is sent.
        """
        out = []
        for _ in range(minutes):
            values = self.step(**conditions)
            if conditions.get("powered", True):
                out.append(Reading(self.device_id, self.at(self.minute), values))
        return out

    def glitch(self, **wild: float) -> Reading:
        """One reading with wild values (issue 11's: 47.5 A, 38 mm/s, 60 kPa) that the next
        reading contradicts."""
        values = self.step()
        values.update(
            wild
            or {
                "current_compressor": 47.5,
                "vibration_compressor": 38.0,
                "pressure_low_side": 60.0,
            }
        )
        return Reading(self.device_id, self.at(self.minute), values)

    def until_defrost_ends(self) -> list[Reading]:
        """Readings until the next scheduled defrost has ended (the drip begins)."""
        out: list[Reading] = []
        while not self._scheduled_defrost():
            out += self.run(1)
        while self._scheduled_defrost():
            out += self.run(1)
        return out

    def until(self, running: bool) -> list[Reading]:
        """Readings until the compressor's state (by the thermostat) becomes `running`."""
        out: list[Reading] = []
        while self.running != running:
            out += self.run(1)
        return out

    def into_run(self, minutes: int) -> list[Reading]:
        """Readings until the compressor has been running `minutes` since its next start."""
        return self.until(False) + self.until(True) + self.run(minutes - 1)

    def into_rest(self, minutes: int) -> list[Reading]:
        """Readings until the compressor has been resting `minutes` since its next stop."""
        return self.until(True) + self.until(False) + self.run(minutes - 1)


# A rack under capacity control runs continuously (physics §1): its readings hold still, so
# tests can put one value exactly at, under or over a level.
RACK: dict[str, float | bool | None] = {
    "current_compressor": 12.0,
    "pressure_low_side": 300.0,
    "temperature_evaporator": -27.0,
    "vibration_compressor": 3.0,
    "door_open_close": False,
    "defrost_cycle": False,
}


def rack(minute: float, device_id: str = "dev-1", **values: float | bool | None) -> Reading:
    """The continuously running rack's reading at `minute` after T0, some values replaced."""
    return Reading(device_id, T0 + timedelta(minutes=minute), {**RACK, **values})


def racks(start: float, count: int, **values: float | bool | None) -> list[Reading]:
    """`count` rack readings a minute apart from `start`, with the same values replaced."""
    return [rack(start + i, **values) for i in range(count)]
