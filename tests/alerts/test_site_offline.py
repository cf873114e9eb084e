"""Site offline: a whole site gone silent is one HIGH incident with its devices in it, shown
as one alert in the queue and on the site page, closed when the site reports again; the
restart pull-downs that follow raise nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings

from alerts.models import DeviceAlert, SiteOfflineIncident
from alerts.site_offline import LAST_SEEN_KEY, site_offline_check
from alerts.streaming import StreamingWorker
from alerts.tasks import site_offline_check_task
from fleetmon.streams import client, stream_key
from quality.ingest import ingest_messages
from tests.conftest import NORMAL_READINGS, message, register_devices
from tests.scoring.streaming.shapes import Unit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.storage]

HEALTHY_HOURS = 23  # most of a day, with margin over REST_MIN_HOURS whatever the clock minute
OUTAGE_MINUTES = 40


@pytest.fixture(autouse=True)
def clean_redis():
    redis = client()
    keys = [stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)]
    redis.delete(LAST_SEEN_KEY, *keys)
    yield
    redis.delete(LAST_SEEN_KEY, *keys)


class Fleet:
    """Two sites of refrigerated cases, each device a physics unit, fed through ingest and
    the streaming worker a minute at a time."""

    def __init__(self, start: datetime) -> None:
        self.dark = register_devices(3, region="US-W", site_no=21)
        self.lit = register_devices(2, region="US-W", site_no=22)
        self.units = {
            d.device_id: Unit(device_id=d.device_id, start=start, seed=i)
            for i, d in enumerate(self.dark + self.lit)
        }
        self.worker = StreamingWorker(consumer="site-test", block_ms=50)
        self.minute = start

    def run(self, minutes: int, *, dark_powered: bool = True) -> None:
        dark = {d.device_id for d in self.dark}
        readings = []
        for device_id, unit in self.units.items():
            powered = dark_powered or device_id not in dark
            readings += unit.run(minutes, powered=powered)
        self.minute += timedelta(minutes=minutes)
        if readings:
            ingest_messages(
                messages=[
                    message(r.device_id, r.timestamp, readings={**NORMAL_READINGS, **r.values})
                    for r in readings
                ],
                received_at=self.minute,
            )
        while self.worker.step():
            pass

    def minute_by_minute(self, minutes: int, *, dark_powered: bool = True) -> list[dict]:
        """Run a minute at a time, with the site check after each (as beat would)."""
        outcomes = []
        for _ in range(minutes):
            self.run(1, dark_powered=dark_powered)
            outcomes.append(site_offline_check(now=self.minute))
        return outcomes


@pytest.fixture
def fleet(now) -> Fleet:
    fleet = Fleet(now - timedelta(hours=HEALTHY_HOURS + 2))
    fleet.run(HEALTHY_HOURS * 60)
    assert not DeviceAlert.objects.exists()
    return fleet


def test_a_site_power_loss_is_one_incident_closed_on_return_with_no_pull_down_alarms(
    fleet, admin_client
):
    outage = fleet.minute_by_minute(OUTAGE_MINUTES, dark_powered=False)
    assert sum(o["opened"] for o in outage) == 1
    # Opened at the check 10 minutes after the site's last reading, not before.
    opened_at = [o["opened"] for o in outage].index(1) + 1
    assert opened_at == settings.FLEETMON_SITE_OFFLINE_SILENCE_MINUTES
    incident = SiteOfflineIncident.objects.get()
    dark_ids = sorted(d.device_id for d in fleet.dark)
    assert (incident.site_id, incident.device_ids, incident.closed_at) == (
        fleet.dark[0].site_id,
        dark_ids,
        None,
    )
    alert = incident.alert
    assert (alert.severity, alert.source, alert.model_id, alert.status) == (
        "HIGH",
        "streaming",
        "site_offline",
        "open",
    )
    assert all(d in alert.description for d in dark_ids)
    assert DeviceAlert.objects.count() == 1  # one incident, not one alert per device

    # Operators see it in the queue and on the site page, with its runbook.
    queue = admin_client.get("/api/v1/alerts/").json()
    rows = queue["results"] if isinstance(queue, dict) else queue
    assert [r["title"] for r in rows if r.get("kind", "alert") == "alert"] == [alert.title]
    page = admin_client.get(f"/sites/{alert.site_id}/").content.decode()
    assert alert.title in page
    assert b"# Runbook: site offline" in admin_client.get("/runbooks/site-offline/").content

    # The rules know these devices (their running baselines and rests are learned), so
    # silence about what follows means they judged it normal.
    for device in fleet.dark:
        context = fleet.worker.states[device.device_id].context
        stamp = fleet.minute.timestamp()
        assert context.lp_run.value(stamp) and context.rest_envelope(stamp) is not None

    # Power is back: the incident closes at the next check, and the restart pull-downs
    # (warm coils, equalised low sides, high current) raise nothing in the next 2 hours.
    back = fleet.minute_by_minute(120)
    assert sum(o["closed"] for o in back) == 1 and back[0]["closed"] == 1
    assert sum(o["opened"] for o in back) == 0
    incident.refresh_from_db()
    alert.refresh_from_db()
    assert incident.closed_at == fleet.minute - timedelta(minutes=119)
    assert (alert.status, alert.alert_type) == ("resolved", "ANOMALY_RESOLVED")
    assert alert.events.order_by("pk").last().kind == "resolved"
    assert list(DeviceAlert.objects.values_list("model_id", flat=True)) == ["site_offline"]


def test_one_silent_device_at_a_site_that_still_reports_is_no_site_incident(fleet):
    quiet = fleet.dark[0].device_id
    unit = fleet.units.pop(quiet)
    fleet.minute_by_minute(30)
    assert not SiteOfflineIncident.objects.exists()
    fleet.units[quiet] = unit


def test_a_silent_fleet_is_a_stalled_pipeline_not_a_site(fleet):
    outcome = site_offline_check(now=fleet.minute + timedelta(minutes=30))
    assert outcome == {"opened": 0, "closed": 0}
    assert not SiteOfflineIncident.objects.exists()


def test_the_check_is_a_beat_task_that_takes_an_explicit_time(fleet):
    entry = settings.CELERY_BEAT_SCHEDULE["site-offline-check"]
    assert (entry["task"], entry["schedule"]) == ("alerts.tasks.site_offline_check_task", 60.0)
    fleet.minute_by_minute(5, dark_powered=False)
    fleet.run(10, dark_powered=False)
    later = fleet.minute
    assert site_offline_check_task(now=later.isoformat()) == {"opened": 1, "closed": 0}
    # Run again (a retry, a second beat): nothing more.
    assert site_offline_check_task(now=later.isoformat()) == {"opened": 0, "closed": 0}
    assert SiteOfflineIncident.objects.count() == 1
