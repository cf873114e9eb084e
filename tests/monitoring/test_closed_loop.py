"""The continual-learning loop end to end, with no person in it (issue 6, seed page §5.8).

A fleet of 250 simulated devices runs clean for ten days, with an Isolation Forest in
production trained on them; then a heat wave (+8 °C outdoors: +3 to +6 °C at the units,
with the condenser side following) covers the fleet. The system's own jobs then run in
order: features → drift job → retraining trigger checks → retrain → scoring runs (the
candidate as canary) → candidate review. The loop must end in a promotion or a documented
rejection, every step leaving its record.

Compressed time (documented settings): each day holds two hours of readings (10:00-12:00,
the last day until 13:00), the drift trigger reads the 60-minute window ending at 12:00
each day instead of the daily window, and needs 3 consecutive drifting days instead of 7.
The drift job's baseline is still the same window on each earlier day.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from alerts.models import DeviceAlert
from fleetmon.accounts.models import Profile, Role
from fleetmon.simulator.services import backfill, simulation_prepare
from fleetmon.simulator.shift import CovariateShift, ShiftedFleetGenerator
from monitoring.models import DriftCheck, MonitorAlert, RetrainingTrigger
from monitoring.tasks import (
    candidate_review_task,
    drift_task,
    retrain_task,
    retraining_triggers_task,
)
from scoring.models import ModelVersion, ScoringRun
from scoring.services.features import features_compute
from scoring.services.registry import model_set_role
from scoring.services.training import model_train
from scoring.services.validation import regression_set_build
from scoring.tasks import scheduled_scoring_task
from tests.scoring.conftest import scoring_settings  # noqa: F401

pytestmark = [pytest.mark.storage, pytest.mark.django_db(transaction=True)]

DEVICES = 250
SEED = 61
DAY0 = datetime(2026, 10, 20, tzinfo=UTC)
CLEAN_DAYS = 10
HEAT_DAYS = 3
HEAT_C = 8.0


def day(n: int, hour: float = 0) -> datetime:
    return DAY0 + timedelta(days=n, hours=hour)


@pytest.fixture
def eager_celery():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def loop_settings(scoring_settings):  # noqa: F811
    scoring_settings.FLEETMON_RETRAIN_DRIFT_WINDOW_MINUTES = 60
    scoring_settings.FLEETMON_RETRAIN_DRIFT_DAYS = HEAT_DAYS
    scoring_settings.FLEETMON_RETRAIN_CANARY_RUNS = 2
    scoring_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return scoring_settings


@pytest.fixture
def ml_engineer(django_user_model):
    user = django_user_model.objects.create_user(
        "mia", email="mia@example.com", password="pw-ml-12345"
    )
    Profile.objects.create(user=user, role=Role.ML_ENGINEER)
    return user


def build_fleet_with_heat_wave() -> None:
    """Readings and 15- and 60-minute features, two hours a day, the heat wave from day 10."""
    last = CLEAN_DAYS + HEAT_DAYS - 1
    plain = simulation_prepare(
        devices=DEVICES, seed=SEED, start=day(0), end=day(last + 1), fault_fraction=0.0
    )
    heat = CovariateShift(start=day(CLEAN_DAYS), ambient_c=HEAT_C)
    generator = ShiftedFleetGenerator(plain.fleet, [], seed=SEED, shifts=[heat])
    for n in range(last + 1):
        start, end = day(n, 10), day(n, 13 if n == last else 12)
        backfill(generator=generator, start=start, end=end, chunk=timedelta(hours=3))
        for minutes in (15, 60):
            features_compute(minutes=minutes, start=start, end=end)


@pytest.mark.heavy
def test_a_fleet_wide_heat_wave_is_answered_without_a_person(
    loop_settings, eager_celery, ml_engineer
):
    build_fleet_with_heat_wave()
    regression_set_build(devices=80)
    # Deploy: the model in production learnt the clean days.
    first = model_train(kind="isolation_forest", actor="alice", now=day(CLEAN_DAYS - 1, 12))
    production = model_set_role(version=first, role="production", actor="alice", reason="v1")
    last = CLEAN_DAYS + HEAT_DAYS - 1

    # Monitor: the drift job on each day's noon window (the system's Celery task).
    for n in range(1, last + 1):
        drift_task.apply(kwargs={"minutes": 60, "window_end": day(n, 12).isoformat()})
    fleet_checks = DriftCheck.objects.filter(scope="fleet", window_minutes=60)
    before = fleet_checks.get(window_end=day(CLEAN_DAYS - 1, 12))
    assert before.features_exceeded <= 5, "the clean days must not look drifted"
    for n in range(CLEAN_DAYS, last + 1):
        assert fleet_checks.get(window_end=day(n, 12)).features_exceeded > 5

    # Trigger: the daily checks. The retrain starts from the trigger (eager Celery here).
    now = day(last, 12) + timedelta(minutes=20)
    retraining_triggers_task.apply(kwargs={"now": now.isoformat()})
    trigger = RetrainingTrigger.objects.get(trigger_kind="feature_drift")
    assert (trigger.model_kind, trigger.action, trigger.automated) == (
        "isolation_forest",
        "retrain",
        True,
    )
    assert trigger.evidence["streak_days"] == HEAT_DAYS
    assert all(d["features_breached"] > 5 for d in trigger.evidence["days"])
    # Retrain: a candidate on the latest data, in canary beside production.
    assert trigger.status == "candidate_ready", trigger.outcome_reasons
    candidate = trigger.candidate
    assert candidate.role == "canary" and candidate.created_by == "retraining-loop"
    assert candidate.training_window_end > production.training_window_end
    assert "regression" in candidate.validation

    # Validate: the next two scoring runs score the candidate beside production.
    for at in (day(last, 12.5) + timedelta(minutes=5), day(last, 13) + timedelta(minutes=5)):
        scheduled_scoring_task.apply(kwargs={"trigger": "hourly", "now": at.isoformat()})
    runs = ScoringRun.objects.filter(comparison__has_key=candidate.model_id)
    reports = [run.comparison[candidate.model_id] for run in runs]
    assert len(reports) == 2  # the canary report of each run, on the ML dashboard
    assert all(r["reference"] == production.model_id and r["devices"] > 0 for r in reports)
    assert not DeviceAlert.objects.filter(model_id=candidate.model_id).exists()

    # Promote or escalate, decided by the review job alone.
    candidate_review_task.apply()
    trigger.refresh_from_db()
    candidate.refresh_from_db()
    production.refresh_from_db()
    assert trigger.status in ("promoted", "rejected") and trigger.finished_at is not None
    assert trigger.outcome_reasons, "the outcome must say why"
    events = candidate.events.filter(actor="retraining-loop")
    if trigger.status == "promoted":
        assert candidate.role == "production" and production.role == "retired"
        promoted = events.get(action="promoted")
        assert f"retraining trigger #{trigger.pk}" in promoted.reason
    else:
        assert candidate.role == "retired" and production.role == "production"
        rejected = events.get(action="rejected")
        failures = rejected.details["failures"]
        assert failures and trigger.outcome_reasons[-len(failures) :] == failures
        assert rejected.reason == "; ".join(failures)
        assert any(r.startswith(("canary run", "regression")) for r in trigger.outcome_reasons)
        alert = MonitorAlert.objects.get(monitor="retrain_rejected", subject="isolation_forest")
        assert alert.status == "open" and alert.runbook == "retraining"
        # The heat wave may also have raised model monitors (an anomaly-rate spike) that
        # e-mail the ML engineers; the rejection is one e-mail of its own.
        rejections = [m for m in mail.outbox if "rejected" in m.subject]
        assert [m.to for m in rejections] == [["mia@example.com"]]
        assert trigger.outcome_reasons[-1] in rejections[0].body
    print(f"closed loop: {trigger.status}: {trigger.outcome_reasons}; canary: {reports}")  # noqa: T201

    # Idempotent: the jobs running again change nothing.
    retrain_task.apply(args=[trigger.pk])
    candidate_review_task.apply()
    retraining_triggers_task.apply(kwargs={"now": now.isoformat(), "checks": ["feature_drift"]})
    assert ModelVersion.objects.filter(kind="isolation_forest").count() == 2
    assert RetrainingTrigger.objects.filter(trigger_kind="feature_drift").count() == 1
