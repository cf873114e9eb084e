"""Scheduled scoring pauses while the feature store is stale (domain §3.7)."""

import pytest

from scoring.models import ScoringRun
from scoring.pause import scoring_pause, scoring_paused, scoring_resume
from scoring.tasks import scheduled_scoring_task

pytestmark = pytest.mark.django_db


def test_a_paused_schedule_starts_no_run_and_a_resumed_one_does(devices):
    scoring_pause("feature store stale: device_features_15")
    assert scheduled_scoring_task("hourly") == []
    assert not ScoringRun.objects.exists()

    assert scoring_resume() and scoring_paused() is None
    assert len(scheduled_scoring_task("hourly")) == 1  # the rules fallback still scores
    assert ScoringRun.objects.count() == 1
