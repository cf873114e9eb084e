"""Staleness policy: fresh, delayed, rules fallback after 2 h, streaming only after 4 h."""

from datetime import timedelta

import pytest

from scoring.models import ModelScore, ModelVersion
from scoring.services.staleness import scoring_staleness
from scoring.staleness import staleness_state
from tests.scoring.conftest import END


@pytest.mark.parametrize(
    ("minutes", "state"),
    [
        (0, "fresh"),
        (59, "fresh"),
        (60, "delayed"),
        (119, "delayed"),
        (120, "rules_fallback"),
        (180, "rules_fallback"),
        (239, "rules_fallback"),
        (240, "streaming_only"),
    ],
)
def test_policy_bands(minutes, state):
    assert staleness_state(timedelta(minutes=minutes)) == state


def test_no_scores_at_all_means_streaming_only():
    assert staleness_state(None) == "streaming_only"


def version(model_id, kind):
    return ModelVersion.objects.create(
        model_id=model_id,
        kind=kind,
        version="1.1.0",
        role="production",
        feature_names=["x"],
        threshold=0.7,
        artifact_path=f"{model_id}.model",
        artifact_sha256="0" * 64,
        artifact_format_version=1,
    )


def score(model_id, window_end):
    ModelScore.objects.create(
        device_id="REF-US-W-00000001",
        window_start=window_end - timedelta(minutes=15),
        window_end=window_end,
        model_id=model_id,
        model_version="1.1.0",
        granularity="fleet",
        deployment_role="production",
        anomaly_score=0.2,
        anomaly_flag=False,
        threshold_used=0.7,
        scored_at=window_end,
        sensor_completeness=1.0,
    )


@pytest.mark.django_db
def test_three_hour_old_scores_route_alerting_to_the_rules_fallback():
    version("isolation_forest_v1", "isolation_forest")
    version("statistical_baseline_v1", "statistical_baseline")
    score("isolation_forest_v1", END - timedelta(hours=3))
    score("statistical_baseline_v1", END - timedelta(hours=5))

    report = scoring_staleness(now=END)

    assert (report["state"], report["age_minutes"]) == ("rules_fallback", 180.0)
    states = {m["model_id"]: m["state"] for m in report["models"]}
    assert states == {
        "isolation_forest_v1": "rules_fallback",
        "statistical_baseline_v1": "streaming_only",
    }


@pytest.mark.django_db
def test_a_model_that_never_scored_counts_as_absent():
    version("isolation_forest_v1", "isolation_forest")
    report = scoring_staleness(now=END)
    assert report["state"] == "streaming_only"
    assert report["models"][0]["age_minutes"] is None


@pytest.mark.django_db
def test_staleness_is_served_by_the_api(admin_client):
    version("isolation_forest_v1", "isolation_forest")
    body = admin_client.get("/api/v1/scoring/staleness/").json()
    assert body["state"] == "streaming_only"
    assert body["models"][0]["model_id"] == "isolation_forest_v1"


@pytest.mark.django_db
def test_runs_page_shows_progress_of_each_run(admin_client):
    from scoring.models import ScoringShard

    forest = version("isolation_forest_v1", "isolation_forest")
    from scoring.models import ScoringRun

    run = ScoringRun.objects.create(
        trigger="hourly", window_minutes=15, window_end=END, status="running"
    )
    for status in ("succeeded", "running", "pending"):
        ScoringShard.objects.create(
            run=run,
            model_version=forest,
            deployment_role="production",
            device_from="A",
            device_to="Z",
            status=status,
        )
    page = admin_client.get("/scoring/runs/").content.decode()
    assert '<progress value="1" max="3"' in page
    assert "1/3 shards" in page
