"""The loop's two endings on a simulated fleet: a good candidate passes regression and
its canary runs and is promoted by the loop itself; a bad one fails them, is rejected (never
promoted), and the ML engineers are told why. Plus the loop's edges: training that fails,
a canary that never reports, a person who decides first, a seasonal baseline update."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from fleetmon.accounts.models import Profile, Role
from monitoring.models import MonitorAlert, RetrainingTrigger
from monitoring.retraining.services import RetrainRefused, retrain_request
from monitoring.tasks import candidate_review_task, retrain_task
from scoring.models import FeatureBaseline, ModelVersion
from scoring.services.registry import model_set_role
from scoring.services.training import model_train
from scoring.services.validation import regression_set_build
from scoring.tasks import dispatch_run
from tests.scoring.conftest import END, build_history, scoring_settings  # noqa: F401

pytestmark = [pytest.mark.storage, pytest.mark.django_db(transaction=True)]

HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)


@pytest.fixture
def eager_celery():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def ml_engineer(django_user_model):
    user = django_user_model.objects.create_user("mia", email="mia@example.com", password="pw")
    Profile.objects.create(user=user, role=Role.ML_ENGINEER)
    return user


def production_fleet(settings, *, devices: int, hours: int, regression_devices: int):
    """A simulated fleet with features before END and an Isolation Forest in production,
    trained an hour before END."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.FLEETMON_RETRAIN_CANARY_RUNS = 2
    settings.FLEETMON_SCORING_SHARD_SIZE = 200
    # The loop's mechanics are under test, not what the forest detects: on the simulated
    # regression set it misses the known anomalies, and the known-anomaly gate would refuse it.
    settings.FLEETMON_VALIDATION_MIN_ANOMALY_CASES = 10**6
    build_history(devices=devices, hours=hours)
    regression_set_build(devices=regression_devices)
    first = model_train(kind="isolation_forest", actor="alice", now=END - HOUR)
    return model_set_role(version=first, role="production", actor="alice", reason="first")


@pytest.fixture
def fleet(scoring_settings, eager_celery, ml_engineer):  # noqa: F811
    """400 devices: the D11 gates (KL over 20 score bins, top-100 overlap) are meant for
    large fleets; on a few dozen devices two equally good models differ by sampling noise."""
    return production_fleet(scoring_settings, devices=400, hours=8, regression_devices=400)


@pytest.fixture
def small_fleet(scoring_settings, eager_celery, ml_engineer):  # noqa: F811
    """40 devices: enough for the loop's edges, where no gate decides."""
    return production_fleet(scoring_settings, devices=40, hours=8, regression_devices=60)


def retrain(reason="missed failures at site 12", **kwargs) -> RetrainingTrigger:
    trigger = retrain_request(
        model_kind="isolation_forest", reason=reason, actor="mia", now=END, **kwargs
    )
    retrain_task.apply(args=[trigger.pk, END.isoformat()])
    trigger.refresh_from_db()
    return trigger


def canary_runs(*ends):
    for end in ends:
        dispatch_run(trigger="on_demand", window_end=end, requested_by="test")


def review(trigger) -> RetrainingTrigger:
    candidate_review_task.apply()
    trigger.refresh_from_db()
    return trigger


def test_a_good_candidate_passes_canary_and_is_promoted_by_the_loop(fleet):
    trigger = retrain()
    assert trigger.status == "candidate_ready" and trigger.candidate.role == "canary"
    assert trigger.candidate.validation["regression"]["passed"], trigger.candidate.validation

    canary_runs(END - QUARTER)
    assert review(trigger).status == "candidate_ready"  # one canary run of the two needed
    canary_runs(END)
    trigger = review(trigger)

    candidate = trigger.candidate
    assert trigger.status == "promoted" and trigger.finished_at is not None, trigger.outcome_reasons
    assert candidate.role == "production"
    assert ModelVersion.objects.get(pk=fleet.pk).role == "retired"
    promoted = candidate.events.get(action="promoted")
    assert promoted.actor == "retraining-loop"
    assert f"retraining trigger #{trigger.pk} (manual" in promoted.reason
    assert "passed regression and 2 canary run(s) against isolation_forest_v1" in promoted.reason
    assert trigger.outcome_reasons[-1] == (
        "passed regression and 2 canary run(s) against isolation_forest_v1"
    )
    assert not MonitorAlert.objects.filter(monitor="retrain_rejected", status="open").exists()


def test_a_candidate_that_fails_canary_is_rejected_and_ml_is_told(fleet):
    # A threshold fix gone wrong: its scores sit far from production's.
    trigger = retrain(reason="threshold fix", threshold=0.3)
    assert trigger.options == {"threshold": 0.3}
    candidate = trigger.candidate
    assert candidate.threshold == 0.3 and candidate.role == "canary"

    canary_runs(END)
    trigger = review(trigger)
    candidate.refresh_from_db()

    assert trigger.status == "rejected" and candidate.role == "retired"
    assert ModelVersion.objects.get(pk=fleet.pk).role == "production"
    canary = [r for r in trigger.outcome_reasons if r.startswith("canary run")]
    assert canary and "KL divergence" in canary[0]
    assert any(r.startswith("regression: ") for r in trigger.outcome_reasons)
    assert candidate.events.get(action="rejected").actor == "retraining-loop"
    alert = MonitorAlert.objects.get(monitor="retrain_rejected", subject="isolation_forest")
    assert (alert.status, alert.severity, alert.runbook) == ("open", "MEDIUM", "retraining")
    assert alert.evidence["candidate"] == candidate.model_id
    [email] = mail.outbox
    assert email.to == ["mia@example.com"] and candidate.model_id in email.subject
    assert canary[0] in email.body and "Production is unchanged" in email.body

    # A later good retrain clears the monitor alert.
    good = retrain(reason="try again")
    canary_runs(END - QUARTER, END)
    assert review(good).status == "promoted"
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_only_one_retrain_of_a_kind_at_a_time(small_fleet):
    retrain()
    with pytest.raises(RetrainRefused, match="already in progress"):
        retrain_request(model_kind="isolation_forest", reason="again", actor="mia", now=END)


def test_a_candidate_without_canary_results_is_rejected_after_the_timeout(small_fleet, settings):
    settings.FLEETMON_RETRAIN_CANARY_TIMEOUT_HOURS = 48
    trigger = retrain()
    assert review(trigger).status == "candidate_ready"  # still waiting
    RetrainingTrigger.objects.filter(pk=trigger.pk).update(
        canary_since=timezone.now() - timedelta(hours=49)
    )
    trigger = review(trigger)
    assert trigger.status == "rejected"
    assert trigger.outcome_reasons[-1] == "no canary result within 2 days, 0:00:00"
    assert trigger.candidate.role == "retired"


def test_a_person_who_decides_first_is_recorded(small_fleet):
    trigger = retrain()
    canary_runs(END)
    model_set_role(
        version=trigger.candidate, role="production", actor="mia", reason="ship it", force=True
    )
    trigger = review(trigger)
    assert trigger.status == "promoted"
    assert trigger.outcome_reasons[-1] == "isolation_forest_v2 set production by mia"


def test_training_that_fails_escalates_to_ml(small_fleet, settings):
    settings.FLEETMON_TRAINING_MIN_ROWS = 10**7
    trigger = retrain()
    assert trigger.status == "escalated" and trigger.finished_at is not None
    assert trigger.outcome_reasons[0].startswith("training failed: only ")
    assert MonitorAlert.objects.get(monitor="retrain_failed").runbook == "retraining"
    assert "training failed" in mail.outbox[0].body
    assert ModelVersion.objects.filter(kind="isolation_forest").count() == 1


def test_seasonal_drift_refreshes_the_baselines_and_keeps_the_model(small_fleet):
    before = set(
        FeatureBaseline.objects.filter(model_version=small_fleet).values_list("pk", flat=True)
    )
    trigger = RetrainingTrigger.objects.create(
        trigger_kind="feature_drift",
        model_kind="isolation_forest",
        fired_at=END,
        summary="seasonal drift",
        action="baseline_update",
    )
    retrain_task.apply(args=[trigger.pk, END.isoformat()])
    trigger.refresh_from_db()
    assert trigger.status == "baseline_updated" and trigger.finished_at is not None
    after = FeatureBaseline.objects.filter(model_version=small_fleet)
    assert after.exists() and not before & set(after.values_list("pk", flat=True))
    assert small_fleet.events.get(action="baseline_updated").actor == "retraining-loop"
    assert ModelVersion.objects.filter(kind="isolation_forest").count() == 1
