"""A device out of service raises nothing: not from the streaming worker, not from a batch
scoring run; back in service, it alerts again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import DeviceAlert
from alerts.services import alerts_from_run
from alerts.streaming import alerts_from_firings
from fleetmon.registry.out_of_service import device_take_out_of_service
from tests.alerts.test_score_to_alert import model, run_with
from tests.alerts.test_websocket import overload
from tests.conftest import register_devices

pytestmark = pytest.mark.django_db


def out_of_service(device_id: str, now, hours: float = 4) -> None:
    device_take_out_of_service(
        device_id=device_id,
        actor="operator_a",
        reason="compressor replaced",
        until=now + timedelta(hours=hours),
        now=now,
    )


def test_an_out_of_service_device_raises_nothing_from_the_streaming_path():
    out, kept = (d.device_id for d in register_devices(2))
    now = timezone.now()
    out_of_service(out, now)
    created = alerts_from_firings([overload(out, now), overload(kept, now)], now=now)
    assert created == 1
    assert not DeviceAlert.objects.filter(device_id=out).exists()
    assert DeviceAlert.objects.filter(device_id=kept).count() == 1


def test_back_in_service_at_until_it_alerts_again_from_the_streaming_path():
    (device,) = (d.device_id for d in register_devices(1))
    now = timezone.now()
    out_of_service(device, now, hours=1)
    later = now + timedelta(hours=1, minutes=1)
    assert alerts_from_firings([overload(device, later)], now=later) == 1


def test_an_out_of_service_device_raises_nothing_from_batch_scoring(settings):
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 1  # the alarm delay has its own tests
    out, kept = (d.device_id for d in register_devices(2))
    forest = model("isolation_forest")
    out_of_service(out, timezone.now())
    run = run_with(
        [(out, forest, 0.97, "vibration_compressor_max"), (kept, forest, 0.97, "temp_mean")]
    )
    assert alerts_from_run(run_id=run.pk)["created"] == 1
    assert not DeviceAlert.objects.filter(device_id=out).exists()
    assert DeviceAlert.objects.filter(device_id=kept).count() == 1
