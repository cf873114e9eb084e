"""Maintenance windows in headless Chromium against uvicorn: an operator sets a weekly window
on a site from the windows page; an acute fault inside it is stored but stays out of the
queue, and its timeline says which window suppressed it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.models import DeviceAlert, MaintenanceWindow
from alerts.streaming import alerts_from_firings
from tests.alerts.test_queue_browser import off_the_loop
from tests.alerts.test_websocket import overload
from tests.browser.support import screenshot, wait_for
from tests.conftest import register_devices

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.browser]


def test_a_recurring_window_suppresses_an_alert_and_shows_it_on_the_timeline(sign_in, asgi_server):
    quiet, loud = register_devices(2, region="US-W", site_no=1)
    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/maintenance-windows/")

    # Weekly, today, from an hour ago to two hours on, in the site's local time.
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles"))
    page.select_option("#window-scope", "device")
    page.fill("#window-target", quiet.device_id)
    page.select_option("#window-kind", "recurring")
    page.fill("#window-starts", (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.check(f"[name=weekdays][value='{local.weekday()}']")
    earlier = local - timedelta(hours=1)
    start = earlier.strftime("%H:%M") if earlier.date() == local.date() else "00:00"
    page.fill("#window-start-time", start)
    page.fill("#window-end-time", (local + timedelta(hours=2)).strftime("%H:%M"))
    page.click("#window-form button[type=submit]")  # no reason yet: refused per field
    page.locator("#window-result").get_by_text("reason").wait_for()
    page.fill("#window-reason", "weekly coil cleaning")
    page.click("#window-form button[type=submit]")
    page.locator("#maintenance-windows [data-field=open]").wait_for()
    window = MaintenanceWindow.objects.get()
    assert (window.kind, window.created_by) == ("recurring", "operator_a")
    screenshot(page, "maintenance-windows")

    # Both devices overload: the one in the window is stored suppressed, out of the queue.
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")
    now = datetime.now(UTC)
    off_the_loop(
        alerts_from_firings, [overload(quiet.device_id, now), overload(loud.device_id, now)]
    )
    shown = DeviceAlert.objects.get(device=loud)
    hidden = DeviceAlert.objects.get(device=quiet)
    page.locator(f'#alert-queue tr[data-alert-id="{shown.pk}"]').wait_for()
    assert (hidden.suppressed, hidden.maintenance_window_id) == (True, window.pk)
    assert page.locator(f'#alert-queue tr[data-alert-id="{hidden.pk}"]').count() == 0

    # Its timeline names the window.
    page.goto(f"{asgi_server}/alerts/{hidden.pk}/")
    entry = page.locator("#alert-timeline li", has_text="Suppressed by a maintenance window")
    entry.wait_for()
    assert "weekly coil cleaning" in entry.inner_text()
    screenshot(page, "alert-suppressed-by-window")
