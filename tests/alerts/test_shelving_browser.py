"""Shelving in headless Chromium against uvicorn: an operator shelves an alert from the queue's
bulk bar, finds it in the Shelved view with its expiry, and sees it come back live when the
sweep finds its shelf expired."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import AlertEvent
from alerts.shelving import shelve_expire
from tests.alerts.test_queue import make_alert
from tests.alerts.test_queue_browser import off_the_loop, row
from tests.browser.support import screenshot, wait_for
from tests.conftest import register_devices

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.browser]


def test_a_shelved_alert_leaves_the_queue_and_returns_at_expiry(sign_in, asgi_server):
    west = register_devices(2, region="US-W", site_no=1)
    now = datetime.now(UTC)
    shelved = make_alert(west[0], severity="HIGH", created=now)
    kept = make_alert(west[1], severity="MEDIUM", created=now)

    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")
    row(page, shelved.pk).locator(".row-select").check()

    # A reason is required; then shelve for 4 hours.
    page.click("[data-bulk-action=shelve]")
    assert "reason" in page.locator("#bulk-result").inner_text()
    page.fill("#bulk-reason", "technician on site until noon")
    page.select_option("#bulk-shelve-duration", "4h")
    page.click("[data-bulk-action=shelve]")
    row(page, shelved.pk).wait_for(state="detached")
    assert row(page, kept.pk).count() == 1
    shelved.refresh_from_db()
    assert shelved.shelved_until is not None
    event = AlertEvent.objects.filter(alert=shelved, kind="shelved").get()
    assert (event.actor, event.note) == ("operator_a", "technician on site until noon")

    # The Shelved view lists it with its expiry, and only it.
    page.click("#shelved-view-link")
    page.wait_for_url("**/alerts/?shelved=true")
    expiry = row(page, shelved.pk).locator("[data-field=shelved]")
    assert expiry.is_visible()
    stamp = expiry.locator("time").get_attribute("datetime")
    assert datetime.fromisoformat(stamp) == shelved.shelved_until
    assert expiry.inner_text().startswith("Shelved until ")
    assert row(page, kept.pk).count() == 0
    screenshot(page, "shelved-view")

    # Back on the active queue, the shelf runs out: the alert returns without a reload.
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")
    assert row(page, shelved.pk).count() == 0
    returned = off_the_loop(shelve_expire, now=shelved.shelved_until + timedelta(seconds=1))
    assert returned == 1
    row(page, shelved.pk).wait_for()
    assert row(page, shelved.pk).locator("[data-field=shelved]").is_hidden()
    screenshot(page, "shelved-alert-returned")
