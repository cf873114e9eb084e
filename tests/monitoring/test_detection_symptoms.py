"""When an acute fault first shows (monitoring.detection.replay.first_symptoms): the first
reading after its onset at which a healthy twin of the device runs its compressor."""

from datetime import timedelta

from fleetmon.simulator.faults import FaultSpec, FaultType
from fleetmon.simulator.fleet import make_fleet
from fleetmon.simulator.generator import FleetGenerator
from monitoring.detection.replay import ReplayConfig, first_symptoms

CONFIG = ReplayConfig(devices=4, history_days=1, test_days=0.125, seed=7)


def test_a_compressor_dying_in_its_runs_last_minute_shows_when_its_next_run_is_due():
    """A minute's reading is the state at its start: the onset minute's reading still shows
    the healthy run, and a compressor that stops where its run would have ended anyway
    shows only when the next run is due."""
    layout = make_fleet(CONFIG.devices, seed=CONFIG.seed)
    device = layout.devices[0].device_id
    twin = FleetGenerator(layout, [], seed=CONFIG.seed, origin=CONFIG.start).frame(
        CONFIG.test_start, CONFIG.test_end, with_state=True
    )
    on = twin[twin["device_id"] == device].set_index("timestamp")["compressor_on"] > 0
    stamps = list(on.index)
    last = next(i for i in range(len(stamps) - 1) if on.iloc[i] and not on.iloc[i + 1])
    onset = stamps[last].to_pydatetime()
    restart = next(t for t in stamps[last + 1 :] if on[t]).to_pydatetime()
    fault = FaultSpec(device, FaultType.COOLING_LOSS, onset, onset + timedelta(hours=1))

    assert first_symptoms(layout, [fault], [], CONFIG) == {fault: restart}
