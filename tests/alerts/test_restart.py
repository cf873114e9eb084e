"""After a site power loss, batch model alerts on the site's devices wait out the restart
pull-down (alerts.restart), and alert again after it."""

from datetime import timedelta

import pytest

from alerts.models import DeviceAlert, SiteOfflineIncident
from alerts.restart import devices_restarting, restart_minutes
from alerts.services import alerts_from_run
from scoring.models import DeviceFeatures
from tests.alerts.test_score_to_alert import model, run_with
from tests.conftest import register_devices
from tests.scoring.conftest import END

OUTAGE = timedelta(minutes=40)


@pytest.mark.parametrize(
    ("duty", "minutes"),
    [
        (0.75, 120.0),  # three times the outage: a third of the load spare
        (0.5, 60.0),  # as long as the outage
        (0.2, 60.0),  # 10 min by the balance, the minimum applies
        (None, 360.0),  # unknown duty: the maximum
        (0.95, 360.0),  # too little spare capacity to estimate from
    ],
)
def test_the_restart_period_follows_the_devices_spare_capacity(duty, minutes):
    assert restart_minutes(outage=OUTAGE, duty=duty) == minutes


def test_a_long_outage_is_capped_at_the_maximum(settings):
    settings.FLEETMON_POST_OUTAGE_MAX_MINUTES = 240
    assert restart_minutes(outage=timedelta(hours=3), duty=0.6) == 240.0


@pytest.fixture
def outage(db, settings):
    """Two devices of a site back from a 40-minute outage 15 minutes before END; the first
    ran at a duty of 75 % the day before (a 2-hour pull-down)."""
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 2
    devices = [d.device_id for d in register_devices(2)]
    back = END - timedelta(minutes=15)
    silent = back - OUTAGE
    SiteOfflineIncident.objects.create(
        site_id="SITE-US-SEA-0001",
        region="US-W",
        silent_since=silent,
        opened_at=silent + timedelta(minutes=10),
        closed_at=back,
        device_ids=devices,
    )
    _trailing_day(devices[0], end=silent - timedelta(minutes=5), duty=0.75)
    return devices, back


def _trailing_day(device_id: str, *, end, duty: float) -> None:
    DeviceFeatures.objects.create(
        device_id=device_id,
        window_start=end - timedelta(days=1),
        window_end=end,
        window_duration_minutes=1440,
        reading_count=1400,
        sensor_completeness=1.0,
        quality_flag_count=0,
        duty_cycle=duty,
    )


def test_devices_restart_for_their_own_period(outage):
    (first, second), back = outage
    both = [first, second]
    assert devices_restarting(device_ids=both, window_end=back + timedelta(minutes=100)) == {
        first,
        second,
    }
    # The first's two hours are over; the second, of unknown duty, waits the maximum.
    assert devices_restarting(device_ids=both, window_end=back + timedelta(minutes=125)) == {second}
    assert devices_restarting(device_ids=both, window_end=back + timedelta(hours=7)) == set()


def test_an_open_incident_holds_its_devices(db):
    devices = [d.device_id for d in register_devices(2)]
    SiteOfflineIncident.objects.create(
        site_id="SITE-US-SEA-0001",
        region="US-W",
        silent_since=END - OUTAGE,
        opened_at=END - timedelta(minutes=30),
        device_ids=devices,
    )
    assert devices_restarting(device_ids=devices, window_end=END) == set(devices)


def test_no_batch_alert_during_the_pull_down_and_one_after_it(outage):
    (device, _), back = outage
    stats = model("statistical_baseline")
    flagged = [(device, stats, 0.97, "temp_evaporator_mean")]
    # The pull-down: two flagged windows an hour apart, which would otherwise alert.
    for minutes in (15, 75):
        run = run_with(flagged, back + timedelta(minutes=minutes))
        assert alerts_from_run(run_id=run.pk)["created"] == 0
    assert not DeviceAlert.objects.filter(device_id=device).exists()
    # Past its two hours the alarm delay starts afresh: the pull-down's flags confirm
    # nothing, and a flag that persists into the next window is a fault.
    run = run_with(flagged, back + timedelta(minutes=135))
    assert alerts_from_run(run_id=run.pk)["created"] == 0
    run = run_with(flagged, back + timedelta(minutes=195))
    assert alerts_from_run(run_id=run.pk)["created"] == 1
    assert DeviceAlert.objects.get(device_id=device).severity == "CRITICAL"
