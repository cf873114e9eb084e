"""In the browser: an operator opens a device page, is refused an impossible threshold next
to the field, previews a value, saves it with a reason, sees it in the history and reverts
it; a manager sees no edit forms; an operator of another region gets nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import ThresholdHistory
from quality.ingest import ingest_messages
from tests.browser.support import screenshot
from tests.conftest import message, register_devices
from tests.registry.console_cast import make_alert

pytestmark = [pytest.mark.browser, pytest.mark.live]

PARAMETER = "overload_steady_factor"


@pytest.fixture
def device(transactional_db):
    device = register_devices(1, region="US-W", site_no=1)[0]
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=6)

    # Six hours of a steady run a minute apart at 12 A, with two 4-minute episodes at 15 A
    # (1.25x): quiet at the default 1.35x; at 1.2x two firings, one alert (the second
    # repeats the first).
    def amps(m: int) -> float:
        return 15.0 if 60 <= m < 64 or 300 <= m < 304 else 12.0

    ingest_messages(
        messages=[
            message(
                device.device_id,
                start + timedelta(minutes=m),
                values={"current_compressor": amps(m)},
            )
            for m in range(360)
        ]
    )
    make_alert(device, severity="HIGH", rule="door_open_too_long")
    return device


def test_an_operator_edits_a_threshold_and_sees_the_history(sign_in, asgi_server, device):
    page = sign_in("operator_a")
    page.goto(f"{asgi_server}/devices/{device.device_id}/")
    page.wait_for_selector("#sensor-charts .chart .main-svg")  # plotly drew the charts
    row = page.locator(f"tr[data-parameter='{PARAMETER}']")
    assert row.locator(".source").inner_text() == "default"
    row.locator("summary").click()
    form = row.locator("form.threshold-form")

    form.locator("input[name=value]").fill("0")
    form.locator("button[data-action=save]").click()
    value_error = form.locator("[data-error-for=value]")
    value_error.wait_for(state="visible")
    assert "between 1.1 and 5" in value_error.inner_text()
    assert form.locator("[data-error-for=reason]").inner_text() == "a reason is required"

    form.locator("input[name=value]").fill("1.2")
    form.locator("button[data-action=preview]").click()
    preview = form.locator(".preview")
    preview.filter(has_text="Would have raised").wait_for()
    assert preview.inner_text() == (
        "Would have raised 1 alert (2 firings) in the last 7 days (now: 0 alerts, 0 firings)."
    )

    form.locator("input[name=reason]").fill("small compressor, 16 A nominal")
    form.locator("button[data-action=save]").click()
    page.locator("#threshold-status").filter(has_text="Saved").wait_for()
    row = page.locator(f"tr[data-parameter='{PARAMETER}']")
    assert row.locator(".effective").inner_text() == "1.2 ×"
    assert row.locator(".source").inner_text() == "device"
    newest = page.locator("#threshold-history li").first
    assert "none → 1.2" in newest.inner_text()
    assert "small compressor, 16 A nominal" in newest.inner_text()
    assert ThresholdHistory.objects.get().changed_by == "operator_a"
    screenshot(page, "device_page")

    newest.locator("input[name=reason]").fill("trial over")
    newest.locator("button[type=submit]").click()
    page.locator("#threshold-status").filter(has_text="Reverted").wait_for()
    row = page.locator(f"tr[data-parameter='{PARAMETER}']")
    assert (row.locator(".effective").inner_text(), row.locator(".source").inner_text()) == (
        "1.35 ×",
        "default",
    )
    assert "Revert of change" in page.locator("#threshold-history li").first.inner_text()


def test_a_manager_reads_and_another_region_sees_nothing(sign_in, asgi_server, device):
    manager = sign_in("manager")
    manager.goto(f"{asgi_server}/devices/{device.device_id}/")
    manager.wait_for_selector("#threshold-table")
    assert manager.locator(".threshold-form").count() == 0

    outsider = sign_in("operator_b")
    answer = outsider.goto(f"{asgi_server}/devices/{device.device_id}/")
    assert answer.status == 404
    outsider.goto(f"{asgi_server}/sites/")
    assert device.site_id not in outsider.content()
