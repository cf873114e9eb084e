"""Out of service in headless Chromium against uvicorn: an operator takes a device out of
service from its page, and a firing of the streaming rules on it raises nothing in the live
queue while one on its neighbour does."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import DeviceAlert
from alerts.streaming import alerts_from_firings
from fleetmon.registry.models import OutOfServicePeriod
from tests.alerts.test_queue_browser import off_the_loop
from tests.alerts.test_websocket import overload
from tests.browser.support import screenshot, wait_for
from tests.conftest import register_devices

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.browser]


def test_an_out_of_service_device_raises_nothing(sign_in, asgi_server):
    out, kept = register_devices(2, region="US-W", site_no=1)
    page = sign_in("operator_a")

    # Taken out of service from the device page, with a reason and an end.
    page.goto(f"{asgi_server}/devices/{out.device_id}/")
    page.click("#take-out-of-service")  # no reason yet: refused per field
    page.locator("#out-of-service-result").get_by_text("reason").wait_for()
    page.fill("#out-of-service-reason", "compressor replaced, recharging")
    until = datetime.now(UTC) + timedelta(hours=6)
    page.fill("#out-of-service-until", until.strftime("%Y-%m-%dT%H:%M"))
    page.click("#take-out-of-service")
    page.locator("#out-of-service-status").get_by_text("Out of service until").wait_for()
    assert "compressor replaced, recharging" in page.locator("#out-of-service-status").inner_text()
    period = OutOfServicePeriod.objects.get(device=out)
    assert period.taken_by == "operator_a" and period.ended_at is None
    screenshot(page, "device-out-of-service")

    # Both devices overload; only the one in service reaches the live queue.
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")
    now = datetime.now(UTC)
    off_the_loop(alerts_from_firings, [overload(out.device_id, now), overload(kept.device_id, now)])
    raised = DeviceAlert.objects.get(device=kept)
    page.locator(f'#alert-queue tr[data-alert-id="{raised.pk}"]').wait_for()
    assert not DeviceAlert.objects.filter(device=out).exists()
    devices = page.locator("#alert-queue [data-field=device]").all_inner_texts()
    assert out.device_id not in devices and kept.device_id in devices
    screenshot(page, "out-of-service-raises-nothing")
