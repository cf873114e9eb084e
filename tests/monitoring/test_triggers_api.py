"""The retraining page and API: ML engineers and admins start a manual retrain and read the
trigger history; everyone else is refused the page, operators and managers the retrain."""

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from fleetmon.accounts.tokens import api_token_create
from monitoring.models import RetrainingTrigger
from tests.alerts.alert_cast import api_as, cast  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

API = "/api/v1/monitoring/retraining-triggers/"
PAGE = "/monitoring/retraining/"


@pytest.fixture
def eager_celery():
    from fleetmon.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def history(db):
    """A promoted drift retrain and an open alert-ML trigger."""
    drift = RetrainingTrigger.objects.create(
        trigger_kind="feature_drift",
        model_kind="isolation_forest",
        fired_at=datetime(2026, 11, 18, 4, 10, tzinfo=UTC),
        summary="more than 5 features drifted (KS > 0.1) on each of the last 7 days (up to 9)",
        evidence={"streak_days": 7, "days": [{"day": "2026-11-17", "features_breached": 9}]},
        action="retrain",
        status="promoted",
        outcome_reasons=["passed regression and 2 canary run(s) against isolation_forest_v1"],
        finished_at=datetime(2026, 11, 18, 8, 0, tzinfo=UTC),
    )
    fp = RetrainingTrigger.objects.create(
        trigger_kind="fp_spike",
        model_kind="all",
        fired_at=datetime(2026, 11, 19, 4, 20, tzinfo=UTC),
        summary="operators marked 30 of 100 HIGH/CRITICAL alerts (30%) false positive",
        evidence={"alerts": 100, "false_positives": 30},
        action="alert_ml",
        status="escalated",
    )
    return drift, fp


def test_the_page_shows_the_history_with_evidence_and_outcomes(client, cast, history):  # noqa: F811
    client.force_login(cast["ml_engineer"])
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "passed regression and 2 canary run(s) against isolation_forest_v1" in html
    assert "&quot;streak_days&quot;: 7" in html  # the evidence, escaped
    assert f'data-trigger="{history[1].pk}"' in html
    assert "1 trigger in progress" in html
    assert '<label for="id_reason">' in html


@pytest.mark.parametrize("role", ["operator_a", "manager"])
def test_the_page_is_refused_to_operators_and_managers(client, cast, role):  # noqa: F811
    client.force_login(cast[role])
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"model_kind": "isolation_forest", "reason": "x"}).status_code == 403
    assert not RetrainingTrigger.objects.exists()


def test_the_page_sends_strangers_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_form_starts_a_manual_retrain(
    client,
    cast,  # noqa: F811
    eager_celery,
    django_capture_on_commit_callbacks,
):
    client.force_login(cast["admin"])
    with django_capture_on_commit_callbacks(execute=True) as started:
        response = client.post(
            PAGE, {"model_kind": "isolation_forest", "reason": "firmware 4.3 rollout"}, follow=True
        )
    # The retrain task, sent after commit (its failure below then queues a monitor notice).
    assert "retrain_start_request" in started[0].__qualname__
    assert response.status_code == 200
    trigger = RetrainingTrigger.objects.get()
    assert (trigger.trigger_kind, trigger.automated, trigger.requested_by) == (
        "manual",
        False,
        "admin",
    )
    assert trigger.evidence == {"reason": "firmware 4.3 rollout"}
    assert f"trigger #{trigger.pk}" in response.content.decode()
    # The loop ran (eager Celery): no features in this database, so training failed and
    # the ML engineers were told.
    assert trigger.status == "escalated"
    assert trigger.outcome_reasons[0].startswith("training failed: only 0 usable")


def test_the_form_shows_errors_per_field(client, cast):  # noqa: F811
    client.force_login(cast["ml_engineer"])
    response = client.post(PAGE, {"model_kind": "rules_fallback", "reason": "", "threshold": "2"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"model_kind", "reason", "threshold"}
    assert "Ensure this value is less than or equal to 0.99." in errors["threshold"]
    assert not RetrainingTrigger.objects.exists()


def test_the_api_lists_triggers_newest_first_with_filters(cast, history):  # noqa: F811
    client = api_as(cast["operator_a"])  # reads are open to every role
    body = client.get(API).json()
    assert body["count"] == 2
    assert [r["trigger_kind"] for r in body["results"]] == ["fp_spike", "feature_drift"]
    first = body["results"][1]
    assert first["evidence"]["streak_days"] == 7 and first["status"] == "promoted"
    assert first["outcome_reasons"] == [
        "passed regression and 2 canary run(s) against isolation_forest_v1"
    ]
    only = client.get(API, {"status": "escalated"}).json()
    assert [r["id"] for r in only["results"]] == [history[1].pk]
    assert client.get(API, {"status": "nonsense"}).json() == {
        "status": ['"nonsense" is not a valid choice.']
    }
    detail = client.get(f"{API}{history[0].pk}/").json()
    assert detail["summary"].startswith("more than 5 features")
    assert client.get(f"{API}999999/").status_code == 404


def test_the_api_starts_a_manual_retrain_for_ml_engineers(cast, eager_celery):  # noqa: F811
    response = api_as(cast["ml_engineer"]).post(
        API,
        {"model_kind": "statistical_baseline", "reason": "missed failures", "threshold": 0.8},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["trigger_kind"], body["model_kind"], body["requested_by"]) == (
        "manual",
        "statistical_baseline",
        "ml_engineer",
    )
    assert body["options"] == {"threshold": 0.8}


@pytest.mark.parametrize("role", ["operator_a", "manager"])
def test_the_api_refuses_a_retrain_to_other_roles(cast, role):  # noqa: F811
    response = api_as(cast[role]).post(
        API, {"model_kind": "isolation_forest", "reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert not RetrainingTrigger.objects.exists()


def test_the_api_answers_bad_input_per_field_and_a_retrain_in_progress_with_409(cast):  # noqa: F811
    client = api_as(cast["ml_engineer"])
    bad = client.post(API, {"model_kind": "rules_fallback", "threshold": "high"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"model_kind", "reason", "threshold"}
    assert "is not a valid choice" in bad.json()["model_kind"][0]

    RetrainingTrigger.objects.create(
        trigger_kind="calendar",
        model_kind="isolation_forest",
        fired_at=datetime(2026, 11, 19, tzinfo=UTC),
        summary="calendar",
        action="retrain",
        status="retraining",
    )
    busy = client.post(API, {"model_kind": "isolation_forest", "reason": "x"}, format="json")
    assert busy.status_code == 409
    assert busy.json()["detail"].startswith("a retrain of isolation_forest is already in progress")


def test_the_api_takes_a_token(cast, history):  # noqa: F811
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_create(user=cast['manager'], name='test')[1]}"
    )
    assert client.get(API).status_code == 200
    assert APIClient().get(API).status_code == 403
