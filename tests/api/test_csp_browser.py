"""The Content-Security-Policy holds in a real browser: every console page, the admin and the
API docs load with no refused script or style, their charts draw, and the docs render from
the pinned sidecar with the network to the outside cut."""

import pytest

from tests.browser.support import screenshot
from tests.conftest import register_devices
from tests.registry.console_cast import make_alert

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def watch(page) -> list[str]:
    """Collect CSP refusals and script errors (Chromium logs the first as console errors)."""
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return problems


def offline(page, base: str) -> list[str]:
    """Refuse every request that leaves the app, as on a machine with no internet."""
    outside: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith(base):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return outside


def test_every_console_page_loads_under_the_csp(sign_in, asgi_server):
    west = register_devices(1, region="US-W", site_no=1)[0]
    alert = make_alert(
        west,
        severity="HIGH",
        top_contributors=["current_compressor_mean"],
        contributor_scores=[0.8],
    )
    page = sign_in("admin")
    problems = watch(page)
    outside = offline(page, asgi_server)
    pages = [
        "/alerts/",
        f"/alerts/{alert.pk}/",
        f"/devices/{west.pk}/",
        "/sites/",
        f"/sites/{west.site_id}/",
        "/overview/",
        "/monitoring/ops/",
        "/monitoring/ml/",
        "/monitoring/data/",
        "/monitoring/retraining/",
        "/scoring/runs/",
        "/settings/notifications/",
        "/admin/",
        "/admin/registry/device/",
    ]
    for path in pages:
        response = page.goto(f"{asgi_server}{path}")
        assert response.status == 200, path
        assert "content-security-policy" in response.headers, path
        assert "permissions-policy" in response.headers, path
        page.wait_for_load_state("networkidle")
        if problems and not problems[-1].startswith("  ^"):
            problems.append(f"  ^ on {path}")
    page.goto(f"{asgi_server}/devices/{west.pk}/")
    page.wait_for_selector(".js-plotly-plot .main-svg")  # plotly.js from static, drawing
    page.goto(f"{asgi_server}/alerts/{alert.pk}/")
    width = page.eval_on_selector(".bar-fill", "bar => bar.style.width")
    assert width.endswith("%") and width != "0%"  # set by alert.js, not an inline style
    screenshot(page, "csp-alert-page")
    assert problems == [], "\n".join(problems)
    assert outside == []


def test_the_api_docs_render_offline_from_the_pinned_sidecar(sign_in, asgi_server):
    page = sign_in("ml_engineer")
    problems = watch(page)
    outside = offline(page, asgi_server)
    page.goto(f"{asgi_server}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    assert page.locator(".opblock").count() > 50  # every operation listed
    assert "/static/drf_spectacular_sidecar/" in page.content()
    screenshot(page, "api-docs")
    page.goto(f"{asgi_server}/api/redoc/")
    page.wait_for_selector("text=FleetMon API", timeout=30_000)
    page.wait_for_selector("[data-section-id]", timeout=30_000)
    # ReDoc's bundle always puts the Redocly logo from its CDN in the sidebar (no option turns
    # it off); the policy refuses it, the bundle then hides the image, and nothing leaves.
    refused_logo = [p for p in problems if "https://cdn.redoc.ly/redoc/logo-mini.svg" in p]
    assert len(refused_logo) <= 1
    assert [p for p in problems if p not in refused_logo] == []
    assert outside == []
