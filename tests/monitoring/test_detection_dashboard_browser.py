"""The Detection section in headless Chromium against the app under uvicorn: with stored
evaluations the trend chart draws one point per evaluation and the tables read right at
tablet width. The screenshot goes to artifacts/ml-detection.png."""

import pytest

from tests.browser.support import ARTIFACTS
from tests.monitoring.detection_cast import DAY, T0, clean_card, evaluation_store, mixed_card

pytestmark = [pytest.mark.browser, pytest.mark.live]

TREND = "[data-figure-json='fig-detection-trend']"


@pytest.fixture
def evaluations(transactional_db):
    return [
        evaluation_store(clean_card(), at=T0, seed=1),
        evaluation_store(mixed_card(), at=T0 + DAY, seed=2),
    ]


def test_ml_engineer_sees_the_detection_section_and_its_trend_drawn(sign_in, evaluations):
    page = sign_in("ml_engineer")
    base = "/".join(page.url.split("/")[:3])

    response = page.goto(f"{base}/monitoring/ml/#detection")

    assert response.status == 200
    section = page.locator("#detection")
    assert section.locator("h2").first.inner_text() == "Detection"
    page.wait_for_selector(f"{TREND} .main-svg")
    # Four series (two recalls, the D9 share, the healthy rate), one marker per evaluation
    # and measure taken: the first replay had no gradual fault, so its gradual recall is a gap.
    assert page.locator(f"{TREND} .scatterlayer .trace").count() == 4
    assert evaluations[0].gradual_recall is None
    assert page.locator(f"{TREND} .scatterlayer .point").count() == 4 * len(evaluations) - 1
    assert "acute recall in time" in page.locator(f"{TREND} .legend").text_content()
    targets = section.locator("#detection-targets tbody tr")
    from monitoring.detection.scorecard import TARGETS

    assert targets.count() == len(TARGETS)
    assert "NOT met" in section.locator("[data-measure='acute_recall_in_time']").inner_text()
    assert section.locator("#detection-faults tbody tr").count() == 3
    ARTIFACTS.mkdir(exist_ok=True)
    section.screenshot(path=str(ARTIFACTS / "ml-detection.png"))

    page.set_viewport_size({"width": 820, "height": 1100})
    page.wait_for_timeout(200)  # plotly's responsive redraw after the resize
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
