"""The operator's day in headless Chromium, through every real part: a gateway posts an acute
compressor overload to the ingest API, the streaming rules worker (its own process) raises a
CRITICAL alert, the websocket puts it on the open triage queue without a reload; the
operator acknowledges it on its page and marks another alert a false positive with a
reason. An operator of another region sees none of it."""

from datetime import timedelta

import httpx
import orjson
import pytest
from django.utils import timezone

from alerts.models import AlertEvent, DeviceAlert, LabelEvent
from fleetmon.registry.services import fleet_token_create
from fleetmon.streams import client, stream_key
from tests.alerts.test_streaming import start_worker
from tests.browser.support import screenshot, wait_for
from tests.conftest import message, register_devices
from tests.registry.console_cast import make_alert

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rules_worker(settings, tmp_path, transactional_db):
    client().delete(*[stream_key(p) for p in range(settings.FLEETMON_STREAM_PARTITIONS)])
    worker = start_worker(tmp_path, "rules", claim_idle_ms=30_000)
    yield worker
    worker.terminate()
    worker.wait(10)


def post_overload(base: str, device_id: str) -> None:
    _, token = fleet_token_create(name="gateway")
    now = timezone.now().replace(second=0, microsecond=0)
    # Three readings over the limit: one alone is a glitch; the rule needs 3 of the last 4.
    batch = [
        message(device_id, now - timedelta(minutes=3 - i), values={"current_compressor": amps})
        for i, amps in enumerate([12.0, 48.5, 48.5, 48.5])
    ]
    response = httpx.post(
        f"{base}/api/v1/ingest/",
        content=orjson.dumps(batch),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    assert response.json()["accepted"] == 4


def test_an_operator_triages_a_live_critical_alert_from_ingest_to_false_positive(
    sign_in, asgi_server, rules_worker
):
    west = register_devices(2, region="US-W", site_no=1)
    noisy = make_alert(west[1], severity="HIGH", rule="door_open_too_long")

    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/alerts/")
    wait_for(page, "document.body.dataset.live === 'connected'")
    page.evaluate("window.sameDocument = true")  # survives only if the page never reloads

    post_overload(asgi_server, west[0].device_id)
    live = page.locator("#alert-queue tr[data-severity=CRITICAL]").first
    live.wait_for()
    page.locator("#live-toast").filter(has_text="New CRITICAL alert").wait_for()
    assert page.evaluate("window.sameDocument") is True
    alert = DeviceAlert.objects.get(device=west[0])
    assert live.get_attribute("data-alert-id") == str(alert.pk)
    assert (alert.source, alert.model_id) == ("streaming", "compressor_overload")
    screenshot(page, "triage-queue-live")

    # Acknowledge it on its own page, with a note.
    live.locator(f'a[href="/alerts/{alert.pk}/"]').first.click()
    page.wait_for_url(f"**/alerts/{alert.pk}/")
    page.locator("#sensor-charts .chart .main-svg").first.wait_for()
    page.locator("details[data-action=acknowledge] summary").click()
    ack = page.locator("#action-acknowledge")
    ack.locator("textarea[name=note]").fill("technician on site in 20 min")
    ack.locator("button[type=submit]").click()
    page.locator("#alert-status[data-status=acknowledged]").wait_for()
    timeline = page.locator("#alert-timeline")
    timeline.filter(has_text="technician on site in 20 min").wait_for()
    screenshot(page, "alert-page")
    event = AlertEvent.objects.get(alert=alert, kind="acknowledged")
    assert (event.actor, event.note) == ("operator_a", "technician on site in 20 min")

    # The other alert was a door left open for a delivery: a false positive, with a reason.
    page.goto(f"{asgi_server}/alerts/{noisy.pk}/")
    page.locator("details[data-action=mark_false_positive] summary").click()
    fp = page.locator("#action-false-positive")
    fp.locator("button[type=submit]").click()  # no reason: refused next to the field
    page.locator("#false-positive-reason-error").wait_for(state="visible")
    assert DeviceAlert.objects.get(pk=noisy.pk).status == "open"
    fp.locator("textarea[name=reason]").fill("door propped open for a delivery")
    fp.locator("button[type=submit]").click()
    page.locator("#alert-status[data-status=false_positive]").wait_for()
    label = LabelEvent.objects.get(alert=noisy)
    assert (label.label_type, label.label_source, label.notes) == (
        "false_positive",
        "operator_feedback",
        "door propped open for a delivery",
    )

    # operator_b (US-E) sees neither alert, in the queue or by address.
    other = sign_in("operator_b")
    other.goto(f"{asgi_server}/alerts/?status=open&status=acknowledged&status=false_positive")
    wait_for(other, "document.body.dataset.live === 'connected'")
    assert other.locator("#alert-queue tr[data-alert-id]").count() == 0
    for url in (f"/alerts/{alert.pk}/", f"/alerts/{noisy.pk}/", f"/devices/{west[0].pk}/"):
        assert other.goto(f"{asgi_server}{url}").status == 404


# The innermost element reaching furthest right, to name what makes a page too wide.
WIDEST_ELEMENT = """() => {
  let worst = null, right = document.documentElement.clientWidth;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect().right;
    if (r > right) { worst = el; right = r; }
  }
  const path = [];
  for (let el = worst; el && el !== document.body; el = el.parentElement) {
    path.unshift(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.classList.length ? '.' + [...el.classList].join('.') : '') +
      '[' + Math.round(el.getBoundingClientRect().right) + ']');
  }
  return worst ? `${path.join(' > ')} (${worst.textContent.trim().slice(0, 40)})` : '';
}"""


@pytest.mark.parametrize("width", [1280, 820])  # a laptop, and a tablet held upright
def test_console_pages_fit_the_screen_without_sideways_scrolling(sign_in, asgi_server, width):
    device = register_devices(1, region="US-W", site_no=1)[0]
    alert = make_alert(device, severity="CRITICAL", rule="compressor_overload")
    page = sign_in("operator_a")
    page.set_viewport_size({"width": width, "height": 1000})
    pages = {
        "queue": "/alerts/",
        "alert-page": f"/alerts/{alert.pk}/",
        "device-page": f"/devices/{device.pk}/",
        "sites": "/sites/",
    }
    for name, url in pages.items():
        page.goto(f"{asgi_server}{url}")
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        widest = page.evaluate(WIDEST_ELEMENT) if overflow > 0 else ""
        assert overflow <= 0, f"{url} is {overflow}px wider than a {width}px screen: {widest}"
        if width == 820:
            screenshot(page, f"tablet-{name}")
