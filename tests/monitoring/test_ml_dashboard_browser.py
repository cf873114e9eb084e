"""The ML and data-health pages in headless Chromium against the app under uvicorn: the
plotly charts draw, the live refresh redraws them, tablet width does not overflow, and an
operator is refused. Screenshots go to artifacts/."""

import pytest

from tests.browser.support import ARTIFACTS, wait_for
from tests.monitoring.ml_cast import seed_dashboards

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def seeded(transactional_db, demo_users):  # noqa: F811
    return seed_dashboards()


def charts_drawn(page) -> int:
    wait_for(page, "document.querySelectorAll('.chart .main-svg').length >= 3")
    return page.locator(".chart .main-svg").count()


def test_ml_engineer_sees_live_charts_and_operator_is_refused(sign_in, seeded):  # noqa: F811
    page = sign_in("ml_engineer")
    base = "/".join(page.url.split("/")[:3])
    response = page.goto(f"{base}/monitoring/ml/")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "ML engineering"
    # Two score histograms, the agreement heatmap, the contamination trend, one challenger.
    assert charts_drawn(page) >= 5
    assert page.locator("#drift-table tbody tr").count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ml_dashboard.png"), full_page=True)

    # The live refresh fetches the figures endpoint and redraws (forced here, not waited).
    page.evaluate(
        """async () => {
            const r = await fetch('/api/v1/monitoring/ml/figures/');
            const body = await r.json();
            for (const item of body.figures) {
              const el = document.querySelector(`[data-figure-id="${item.id}"]`);
              if (el) window.FleetCharts.plot(el, item.figure);
            }
        }"""
    )
    assert page.locator("[data-figure-id='agreement'] .main-svg").count() >= 1

    page.set_viewport_size({"width": 820, "height": 1100})
    page.goto(f"{base}/monitoring/data/")
    assert charts_drawn(page) >= 3
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    page.screenshot(path=str(ARTIFACTS / "data_health_tablet.png"), full_page=True)

    operator = sign_in("operator_a")
    assert operator.goto(f"{base}/monitoring/ml/").status == 403
    assert operator.goto(f"{base}/monitoring/data/").status == 403
