"""The triage queue page in headless Chromium against uvicorn: a CRITICAL alert arrives live
with its cues, bulk actions change rows, countdowns tick, and another region sees none of it."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from alerts.models import DeviceAlert, SavedView
from alerts.streaming import alerts_from_firings
from tests.alerts.test_queue import make_alert
from tests.alerts.test_websocket import overload
from tests.browser.support import screenshot, wait_for
from tests.conftest import register_devices

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.browser]


def off_the_loop(function, *args, **kwargs):
    """Run `function` in a thread of its own: Playwright's sync API keeps an event loop in
    this one, where the after-commit push (async_to_sync) cannot run."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def row(page, alert_id):
    return page.locator(f'#alert-queue tr[data-alert-id="{alert_id}"]')


def test_operator_triages_a_live_critical_alert_without_reload(sign_in, asgi_server):  # noqa: F811
    west = register_devices(2, region="US-W", site_no=1)
    east = register_devices(1, region="US-E", site_no=2)
    now = datetime.now(UTC)
    waiting = make_alert(west[1], severity="HIGH", created=now, deadline=now + timedelta(hours=2))
    elsewhere = make_alert(east[0], severity="CRITICAL", created=now)

    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")
    assert row(page, waiting.pk).count() == 1 and row(page, elsewhere.pk).count() == 0
    page.locator("#filter-q").click()  # an interaction: the audio cue may play from now on

    # A CRITICAL streaming alert in her region: on top at once, flashed, toasted, sounded.
    off_the_loop(alerts_from_firings, [overload(west[0].device_id, now)])
    critical = DeviceAlert.objects.get(device=west[0])
    first = page.locator("#alert-queue tbody tr").first
    first.wait_for()
    wait_for(
        page,
        "id => document.querySelector('#alert-queue tbody tr').dataset.alertId === id",
        arg=str(critical.pk),
    )
    assert "flash-new" in first.get_attribute("class")
    assert first.get_attribute("data-severity") == "CRITICAL"
    toast = page.locator("#live-toast")
    assert toast.get_attribute("role") == "alert"
    assert toast.inner_text().startswith(f"New CRITICAL alert: {critical.title}")
    assert page.evaluate("document.body.dataset.cues") == "1"
    assert page.evaluate("document.body.dataset.sound") == "on"

    # The SLA countdown ticks in the browser.
    sla = first.locator("[data-field=sla]")
    before = sla.inner_text()
    wait_for(page, "([el, text]) => el.textContent !== text", arg=[sla.element_handle(), before])
    assert sla.inner_text().endswith("left")
    screenshot(page, "triage-queue")

    # Bulk acknowledge the new alert; mark the other false positive (a reason is required).
    first.locator(".row-select").check()
    page.click("[data-bulk-action=acknowledge]")
    wait_for(
        page,
        "id => document.querySelector(`tr[data-alert-id='${id}']`)"
        ".dataset.status === 'acknowledged'",
        arg=str(critical.pk),
    )
    row(page, waiting.pk).locator(".row-select").check()
    page.click("[data-bulk-action=mark_false_positive]")
    assert "reason" in page.locator("#bulk-result").inner_text()
    page.fill("#bulk-reason", "sensor cable loose")
    page.click("[data-bulk-action=mark_false_positive]")
    row(page, waiting.pk).wait_for(state="detached")  # false positive leaves the queue
    waiting.refresh_from_db()
    critical.refresh_from_db()
    assert (waiting.status, critical.status) == ("false_positive", "acknowledged")

    # Operator B (another region) sees none of it.
    other = sign_in("operator_b")
    other.goto(f"{asgi_server}/alerts/")
    assert row(other, elsewhere.pk).count() == 1
    assert row(other, critical.pk).count() == 0 and row(other, waiting.pk).count() == 0
    assert other.locator("#live-toast").is_hidden()


def test_rows_follow_status_changes_made_elsewhere(sign_in, asgi_server):  # noqa: F811
    from alerts import workflow

    west = register_devices(2, region="US-W", site_no=1)
    now = datetime.now(UTC)
    kept = make_alert(west[0], severity="HIGH", created=now)
    closing = make_alert(west[1], severity="MEDIUM", created=now)
    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")

    off_the_loop(workflow.acknowledge, alert_id=kept.pk, actor="someone")
    off_the_loop(workflow.resolve, alert_id=closing.pk, actor="someone", note="fixed")

    wait_for(
        page,
        "id => document.querySelector(`tr[data-alert-id='${id}']`)"
        ".dataset.status === 'acknowledged'",
        arg=str(kept.pk),
    )
    row(page, closing.pk).wait_for(state="detached")
    assert row(page, kept.pk).locator("[data-field=status]").inner_text() == "Acknowledged"


def test_a_reconnecting_page_catches_up_on_what_the_socket_missed(sign_in, asgi_server):  # noqa: F811
    west = register_devices(1, region="US-W", site_no=1)
    page = sign_in("operator_a")
    sockets, swallow = [], {"on": False}

    def through(ws):
        """Forward the real socket, except what arrives while `swallow` is on."""
        server = ws.connect_to_server()
        server.on_message(lambda message: None if swallow["on"] else ws.send(message))
        sockets.append(ws)

    page.route_web_socket("**/ws/alerts/", through)
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")

    swallow["on"] = True  # the push of this alert is lost on the way...
    off_the_loop(alerts_from_firings, [overload(west[0].device_id, datetime.now(UTC))])
    critical = DeviceAlert.objects.get(device=west[0])
    page.wait_for_timeout(500)
    assert row(page, critical.pk).count() == 0
    sockets[0].close()  # ...and the connection drops
    wait_for(page, "document.body.dataset.live === 'disconnected'")
    # The page reconnects and asks GET /api/v1/alert-events/?since=<last id> for it.
    row(page, critical.pk).wait_for()
    assert len(sockets) == 2
    assert page.locator("#live-toast").inner_text().startswith("New CRITICAL alert")


def test_load_more_storms_and_saved_views(sign_in, asgi_server):  # noqa: F811
    from tests.alerts.test_queue import _storm

    west = register_devices(3, region="US-W", site_no=1)
    now = datetime.now(UTC)
    for i in range(60):
        make_alert(west[i % 3], severity="MEDIUM", created=now, deadline=now + timedelta(hours=i))
    storm, members = _storm(west, 3, site_id=west[0].site_id)
    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/alerts/")
    rows = page.locator("#alert-queue tbody tr")
    assert rows.count() == 50 and rows.first.get_attribute("data-storm-id") == str(storm.pk)

    page.click("#load-more")
    wait_for(page, "document.querySelectorAll('#alert-queue tbody tr').length === 61")
    assert page.locator("#load-more").is_hidden()

    page.click(f'tr[data-storm-id="{storm.pk}"] .storm-toggle')
    wait_for(
        page,
        "n => document.querySelectorAll(`tr[data-member-of='${n}']`).length === 3",
        arg=storm.pk,
    )
    expanded = page.locator(f'tr[data-member-of="{storm.pk}"]')
    assert [expanded.nth(i).get_attribute("data-alert-id") for i in range(3)] == [
        str(m.pk) for m in members
    ]
    page.click(f'tr[data-storm-id="{storm.pk}"] .storm-toggle')
    assert page.locator(f'tr[data-member-of="{storm.pk}"]').count() == 0

    page.goto(f"{asgi_server}/alerts/?severity=CRITICAL&alert_type=")
    page.fill("#saved-view-name", "Critical only")
    page.click("#saved-view-save")
    wait_for(page, "document.getElementById('saved-view-message').textContent.startsWith('Saved')")
    page.goto(f"{asgi_server}/alerts/")
    page.select_option("#saved-view-select", label="Critical only")
    page.click("#saved-view-apply")
    page.wait_for_url("**/alerts/?severity=CRITICAL")
    assert page.locator("#alert-queue tbody tr").count() == 1  # the storm
    page.select_option("#saved-view-select", label="Critical only")
    page.click("#saved-view-delete")
    wait_for(
        page, "document.getElementById('saved-view-message').textContent.startsWith('Deleted')"
    )
    assert not SavedView.objects.exists()


def test_a_page_whose_session_ended_stops_reconnecting(sign_in, asgi_server):  # noqa: F811
    page = sign_in("operator_a")
    # Count the sockets this page opens (Playwright's websocket events also report the
    # other tab's).
    page.add_init_script(
        "window.socketsOpened = 0; window.WebSocket = class extends window.WebSocket {"
        " constructor(...args) { super(...args); window.socketsOpened += 1; } };"
    )
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")

    # Signing out in another tab of the same browser ends the session the socket belongs to.
    other = page.context.new_page()
    other.goto(f"{asgi_server}/alerts/")
    other.click("text=Sign out")
    other.wait_for_url("**/accounts/login/**")

    wait_for(page, "document.body.dataset.live === 'signed-out'")
    assert page.locator("#live-status").inner_text().startswith("Signed out")
    page.wait_for_timeout(4000)  # longer than the first two reconnect back-offs
    assert page.evaluate("window.socketsOpened") == 1
