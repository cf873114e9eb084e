"""The model figures follow every scoring run: a real run on a simulated fleet, closed by
its last shard, sends scoring.signals.run_finished, which the hook turns into the task."""

from datetime import timedelta

import pytest

from monitoring.model_health import connect_signals, disconnect_signals
from monitoring.models import ModelRunMetric
from scoring.services.registry import model_set_role
from scoring.services.runs import run_create, run_shard_ids, shard_score
from scoring.services.training import model_train
from tests.scoring.conftest import END, build_history, scoring_settings  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.storage]


@pytest.fixture
def model_health_hook():
    """The hook as MonitoringConfig.ready() connects it, with Celery tasks run inline."""
    from fleetmon.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    connect_signals()
    yield
    disconnect_signals()
    app.conf.task_always_eager = eager


@pytest.fixture
def two_production_models(scoring_settings):  # noqa: F811
    build_history(devices=40, hours=10)
    for kind in ("isolation_forest", "statistical_baseline"):
        version = model_train(kind=kind, actor="test", now=END - timedelta(hours=1))
        model_set_role(version=version, role="production", actor="test", reason="t", force=True)


def score_run(capture):
    run = run_create(trigger="on_demand", window_end=END, requested_by="test")
    with capture(execute=True):
        for shard in run_shard_ids(run):
            shard_score(shard_id=shard)
    return run


def test_a_finished_run_gets_its_model_figures(
    two_production_models, model_health_hook, django_capture_on_commit_callbacks
):
    run = score_run(django_capture_on_commit_callbacks)
    run.refresh_from_db()

    figures = {(m.model_id, m.metric, m.slice): m for m in ModelRunMetric.objects.filter(run=run)}
    assert run.status == "succeeded" and run.devices_scored >= 35
    assert figures[("isolation_forest_v1", "devices", "")].value == run.devices_scored
    rate = figures[("isolation_forest_v1", "anomaly_rate", "")].value
    assert 0 <= rate <= 0.2
    assert 0.05 < figures[("statistical_baseline_v1", "score_std", "")].value < 0.5
    pair = figures[("", "pairwise_agreement", "pair:isolation_forest_v1|statistical_baseline_v1")]
    assert pair.devices == run.devices_scored and pair.value > 0.5
    assert not any(k[0].startswith("rules_fallback") for k in figures)


def test_without_the_hook_nothing_is_computed(
    two_production_models, django_capture_on_commit_callbacks
):
    score_run(django_capture_on_commit_callbacks)
    assert not ModelRunMetric.objects.exists()
