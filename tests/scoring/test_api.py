"""The scoring API: model registry reads and role changes, training, runs, device scores."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from celery.result import AsyncResult
from django.utils import timezone

from fleetmon.accounts.models import Profile, Role
from scoring.models import ModelScore, ModelVersion, ModelVersionEvent, ScoringRun
from scoring.services.features import window_floor
from tests.conftest import register_devices
from tests.scoring.conftest import END, build_history

pytestmark = [pytest.mark.django_db]

MODELS = "/api/v1/models/"
RUNS = "/api/v1/scoring-runs/"


def version(kind: str, number: int, role: str = "draft", promoted_at=None) -> ModelVersion:
    """A registry row without training: enough for reads and role changes."""
    return ModelVersion.objects.create(
        model_id=f"{kind}_v{number}",
        kind=kind,
        version=f"1.{number}.0",
        role=role,
        feature_names=["temp_evaporator_mean", "current_compressor_mean"],
        threshold=0.6,
        training_statistics={"temp_evaporator_mean": {"mean": -20.0}},
        training_window_start=END - timedelta(days=7),
        training_window_end=END - timedelta(days=1),
        training_rows=1200,
        training_devices=40,
        artifact_path=f"{kind}_v{number}.model",
        artifact_sha256="ab" * 32,
        artifact_format_version=1,
        promoted_at=promoted_at,
    )


def score(device_id: str, window_end: datetime, model_id: str = "isolation_forest_v1"):
    return ModelScore.objects.create(
        device_id=device_id,
        window_start=window_end - timedelta(minutes=15),
        window_end=window_end,
        model_id=model_id,
        model_version="1.1.0",
        granularity="fleet",
        deployment_role="production",
        anomaly_score=0.42,
        anomaly_flag=False,
        threshold_used=0.6,
        top_contributors=["vibration_compressor_max"],
        contributor_scores=[0.9],
        scored_at=window_end + timedelta(minutes=1),
        sensor_completeness=1.0,
    )


@pytest.fixture
def user_client(client, django_user_model):
    """An operator: may read the registry and runs, may not change anything."""
    user = django_user_model.objects.create_user("bob", password="pw")
    Profile.objects.create(user=user, role=Role.OPERATOR, regions=["US-W"])
    client.force_login(user)
    return client


@pytest.fixture
def ml_client(client, django_user_model):
    user = django_user_model.objects.create_user("mia", password="pw")
    Profile.objects.create(user=user, role=Role.ML_ENGINEER)
    client.force_login(user)
    return client


def test_a_user_without_a_role_cannot_even_read(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))
    assert client.get(MODELS).status_code == 403


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


# ---------------------------------------------------------------- model registry


def test_models_are_listed_and_filtered_by_kind_and_role(user_client):
    version("isolation_forest", 1, role="production")
    version("isolation_forest", 2)
    version("statistical_baseline", 1, role="production")

    everything = user_client.get(MODELS).json()
    forests = user_client.get(MODELS, {"kind": "isolation_forest"}).json()
    production = user_client.get(MODELS, {"role": "production"}).json()

    assert len(everything) == 3
    assert [m["model_id"] for m in forests] == ["isolation_forest_v2", "isolation_forest_v1"]
    assert {m["model_id"] for m in production} == {
        "isolation_forest_v1",
        "statistical_baseline_v1",
    }


def test_an_unknown_kind_filter_is_a_400_listing_the_kinds(user_client):
    response = user_client.get(MODELS, {"kind": "random_forest"})
    assert response.status_code == 400
    assert "isolation_forest" in response.json()["kind"][0]


def test_a_model_detail_has_its_training_metadata_and_events(user_client):
    forest = version("isolation_forest", 1)
    ModelVersionEvent.objects.create(
        model_version=forest, action="trained", to_role="draft", actor="alice"
    )

    body = user_client.get(f"{MODELS}isolation_forest_v1/").json()

    assert body["training_rows"] == 1200 and body["training_devices"] == 40
    assert body["training_window_end"] == "2026-11-24T12:00:00Z"
    assert body["feature_names"] == ["temp_evaporator_mean", "current_compressor_mean"]
    assert body["training_statistics"]["temp_evaporator_mean"] == {"mean": -20.0}
    assert (body["threshold"], body["artifact_format_version"]) == (0.6, 1)
    assert body["artifact_sha256"] == "ab" * 32
    [event] = body["events"]
    assert (event["action"], event["actor"], event["to_role"]) == ("trained", "alice", "draft")


def test_an_unknown_model_is_a_404(user_client):
    assert user_client.get(f"{MODELS}isolation_forest_v9/").status_code == 404


def test_staff_give_a_version_a_role_and_the_event_says_who_and_why(admin_client, scoring_settings):
    version("isolation_forest", 1)

    response = post(
        admin_client,
        f"{MODELS}isolation_forest_v1/promote/",
        {"role": "canary", "reason": "beats v0 on last week's faults"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["role"] == "canary"
    event = body["events"][0]
    assert (event["actor"], event["from_role"], event["to_role"]) == ("admin", "draft", "canary")
    assert event["reason"] == "beats v0 on last week's faults"
    assert ModelVersion.objects.get(model_id="isolation_forest_v1").role == "canary"


def test_a_role_change_without_a_reason_is_refused_with_the_registry_message(admin_client):
    version("isolation_forest", 1)

    without = post(admin_client, f"{MODELS}isolation_forest_v1/promote/", {"role": "canary"})
    blank = post(
        admin_client, f"{MODELS}isolation_forest_v1/promote/", {"role": "canary", "reason": " "}
    )

    assert without.status_code == blank.status_code == 400
    assert without.json() == blank.json() == {"detail": "a reason is required"}
    assert ModelVersion.objects.get(model_id="isolation_forest_v1").role == "draft"


def test_a_role_the_version_already_has_is_refused(admin_client):
    version("isolation_forest", 1, role="canary")
    response = post(
        admin_client, f"{MODELS}isolation_forest_v1/promote/", {"role": "canary", "reason": "x"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "isolation_forest_v1 is already canary"}


def test_an_unknown_role_is_a_400_naming_the_field(admin_client):
    version("isolation_forest", 1)
    response = post(
        admin_client, f"{MODELS}isolation_forest_v1/promote/", {"role": "boss", "reason": "x"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["role"]


def test_promoting_an_unknown_model_is_a_404(admin_client):
    response = post(
        admin_client, f"{MODELS}isolation_forest_v9/promote/", {"role": "canary", "reason": "x"}
    )
    assert response.status_code == 404


def test_an_operator_can_read_but_not_promote(user_client):
    version("isolation_forest", 1)

    assert user_client.get(f"{MODELS}isolation_forest_v1/").status_code == 200
    response = post(
        user_client, f"{MODELS}isolation_forest_v1/promote/", {"role": "canary", "reason": "x"}
    )

    assert response.status_code == 403
    assert ModelVersion.objects.get(model_id="isolation_forest_v1").role == "draft"


def test_anonymous_requests_are_refused(client):
    # Session authentication sends no WWW-Authenticate challenge, so DRF answers 403, not 401.
    version("isolation_forest", 1)
    requests = [
        client.get(MODELS),
        client.get(f"{MODELS}isolation_forest_v1/"),
        client.get(RUNS),
        post(client, f"{MODELS}isolation_forest_v1/promote/", {"role": "canary", "reason": "x"}),
        post(client, f"{MODELS}rollback/", {"kind": "isolation_forest", "reason": "x"}),
        post(client, f"{MODELS}train/", {"kind": "isolation_forest"}),
        post(client, RUNS, {}),
    ]
    assert [r.status_code for r in requests] == [403] * len(requests)
    assert requests[0].json()["detail"] == "Authentication credentials were not provided."


def test_rollback_puts_the_previous_production_version_back(admin_client, scoring_settings):
    now = timezone.now()
    version("isolation_forest", 1, role="retired", promoted_at=now - timedelta(days=9))
    version("isolation_forest", 2, role="production", promoted_at=now - timedelta(days=2))

    response = post(
        admin_client,
        f"{MODELS}rollback/",
        {"kind": "isolation_forest", "reason": "v2 flags every defrost cycle"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["model_id"], body["role"]) == ("isolation_forest_v1", "production")
    assert (body["events"][0]["action"], body["events"][0]["actor"]) == ("restored", "admin")
    assert ModelVersion.objects.get(model_id="isolation_forest_v2").role == "retired"


def test_rollback_with_nothing_to_roll_back_to_is_a_400(admin_client):
    version("isolation_forest", 1, role="production", promoted_at=timezone.now())

    only_one = post(admin_client, f"{MODELS}rollback/", {"kind": "isolation_forest", "reason": "x"})
    none = post(admin_client, f"{MODELS}rollback/", {"kind": "rules_fallback", "reason": "x"})

    assert only_one.status_code == none.status_code == 400
    assert only_one.json() == {
        "detail": "isolation_forest_v1 has no earlier production version to roll back to"
    }
    assert none.json() == {"detail": "no production version of rules_fallback to roll back"}


def test_rollback_needs_a_reason(admin_client):
    response = post(admin_client, f"{MODELS}rollback/", {"kind": "isolation_forest"})
    assert response.status_code == 400
    assert list(response.json()) == ["reason"]


def test_training_an_unknown_kind_is_a_400_listing_the_kinds(admin_client):
    response = post(admin_client, f"{MODELS}train/", {"kind": "random_forest"})
    assert response.status_code == 400
    assert response.json() == {
        "kind": [
            '"random_forest" is not a model kind; choose one of cohort_isolation_forest, '
            "daily_baseline, isolation_forest, rules_fallback, statistical_baseline"
        ]
    }


def test_an_operator_cannot_train(user_client):
    assert post(user_client, f"{MODELS}train/", {"kind": "isolation_forest"}).status_code == 403


def test_an_ml_engineer_may_change_the_registry(ml_client):
    """Not refused for the role: the unknown kind is judged (400), not the user (403)."""
    assert post(ml_client, f"{MODELS}train/", {"kind": "random_forest"}).status_code == 400


@pytest.mark.live
@pytest.mark.storage
def test_training_is_queued_and_a_draft_version_appears(
    admin_client, scoring_settings, celery_worker
):
    # The task trains as of now; the history ends before the validation span (now - 2 h) and
    # the gap before it (1 h), so every window is a training window.
    build_history(devices=20, hours=10, end=window_floor(timezone.now(), 15) - timedelta(hours=3))

    response = post(admin_client, f"{MODELS}train/", {"kind": "isolation_forest"})

    assert response.status_code == 202, response.content
    task_id = response.json()["task_id"]
    assert AsyncResult(task_id, app=celery_worker).get(timeout=60) == "isolation_forest_v1"
    [draft] = admin_client.get(MODELS, {"kind": "isolation_forest"}).json()
    assert (draft["model_id"], draft["role"], draft["created_by"]) == (
        "isolation_forest_v1",
        "draft",
        "admin",
    )
    assert draft["training_rows"] >= 200


# ---------------------------------------------------------------- scoring runs


def wait_until_finished(client, run_id: int, timeout: float = 60) -> dict:
    """Poll the run's detail until it is closed and handed to the alert pipeline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"{RUNS}{run_id}/").json()
        if body["finished_at"] and body["alerted_at"]:
            return body
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s: {body}")


@pytest.mark.live
@pytest.mark.storage
def test_an_on_demand_run_is_scored_and_its_detail_shows_progress_and_shards(
    admin_client, scoring_settings, celery_worker
):
    scoring_settings.FLEETMON_SCORING_SHARD_SIZE = 10
    build_history(devices=20, hours=3)

    response = post(admin_client, RUNS, {"window_end": END.isoformat()})

    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["trigger"], created["requested_by"]) == ("on_demand", "admin")
    assert created["window_end"] == "2026-11-25T12:00:00Z"
    assert created["progress"]["shards"] == 2
    run = wait_until_finished(admin_client, created["id"])
    assert run["status"] == "succeeded", run["error"]
    assert run["progress"] == {"shards": 2, "done": 2, "fraction": 1.0}
    assert [(s["model_id"], s["deployment_role"], s["status"]) for s in run["shards"]] == [
        ("rules_fallback_v1", "production", "succeeded")
    ] * 2
    assert run["shards"][0]["device_to"] < run["shards"][1]["device_from"]
    assert run["rows_written"] == sum(s["rows_written"] for s in run["shards"]) > 0
    assert admin_client.get(RUNS).json()["results"][0]["id"] == created["id"]

    device_id = ModelScore.objects.filter(run_id=created["id"]).first().device_id
    scores = admin_client.get(
        f"/api/v1/devices/{device_id}/scores/",
        {"since": (END - timedelta(hours=1)).isoformat(), "until": END.isoformat()},
    ).json()
    assert [(s["model_id"], s["window_end"]) for s in scores] == [
        ("rules_fallback_v1", "2026-11-25T12:00:00Z")
    ]


def test_a_run_with_no_model_of_the_kinds_asked_for_is_a_409(
    admin_client, scoring_settings, devices
):
    response = post(admin_client, RUNS, {"kinds": ["isolation_forest"]})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("nothing to score")
    assert not ScoringRun.objects.exists()


def test_a_run_for_an_unknown_kind_device_or_a_misaligned_window_is_a_400(admin_client, devices):
    kind = post(admin_client, RUNS, {"kinds": ["random_forest"]})
    device = post(admin_client, RUNS, {"device_id": "REF-NOPE"})
    window = post(admin_client, RUNS, {"window_end": "2026-11-25T12:07:00Z"})

    assert (kind.status_code, device.status_code, window.status_code) == (400, 400, 400)
    assert "choose one of" in kind.json()["kinds"]["0"][0]
    assert device.json() == {"device_id": ["no device 'REF-NOPE' in the registry"]}
    assert window.json() == {"window_end": ["must be on a 15-minute boundary"]}
    assert not ScoringRun.objects.exists()


def test_an_operator_cannot_start_a_run(user_client, devices):
    assert post(user_client, RUNS, {}).status_code == 403
    assert not ScoringRun.objects.exists()


def test_runs_are_listed_newest_first_fifty_at_a_time(user_client):
    ScoringRun.objects.bulk_create(
        ScoringRun(trigger="hourly", window_minutes=15, window_end=END - timedelta(hours=i))
        for i in range(52)
    )
    newest = ScoringRun.objects.create(trigger="on_demand", window_minutes=15, window_end=END)

    first = user_client.get(RUNS).json()
    small = user_client.get(RUNS, {"limit": 2, "offset": 1}).json()

    assert (first["count"], len(first["results"])) == (53, 50)
    assert first["results"][0]["id"] == newest.pk
    assert len(small["results"]) == 2 and small["results"][0]["id"] != newest.pk
    assert "limit=2" in small["next"] and "offset=3" in small["next"]


def test_an_unknown_run_is_a_404(user_client):
    assert user_client.get(f"{RUNS}999999/").status_code == 404


# ---------------------------------------------------------------- device scores


def test_device_scores_between_since_and_until_in_window_order(user_client, devices):
    device = devices[0].device_id
    for hours in (3, 2, 1):
        score(device, END - timedelta(hours=hours))
    score(device, END - timedelta(hours=2), model_id="rules_fallback_v1")
    score(devices[1].device_id, END - timedelta(hours=2))
    url = f"/api/v1/devices/{device}/scores/"
    since, until = (END - timedelta(hours=2)).isoformat(), (END - timedelta(hours=1)).isoformat()

    both = user_client.get(url, {"since": since, "until": until}).json()
    forest = user_client.get(
        url, {"since": since, "until": until, "model_id": "isolation_forest_v1"}
    ).json()

    assert [(s["window_end"], s["model_id"]) for s in both] == [
        ("2026-11-25T10:00:00Z", "isolation_forest_v1"),
        ("2026-11-25T10:00:00Z", "rules_fallback_v1"),
        ("2026-11-25T11:00:00Z", "isolation_forest_v1"),
    ]
    assert [s["window_end"] for s in forest] == ["2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"]
    assert set(both[0]) == {
        "score_id",
        "device_id",
        "model_id",
        "model_version",
        "granularity",
        "deployment_role",
        "window_start",
        "window_end",
        "anomaly_score",
        "anomaly_flag",
        "threshold_used",
        "top_contributors",
        "contributor_scores",
        "scored_at",
        "sensor_completeness",
    }
    assert (both[0]["top_contributors"], both[0]["contributor_scores"]) == (
        ["vibration_compressor_max"],
        [0.9],
    )


def test_device_scores_default_to_the_last_24_hours(user_client, devices):
    device = devices[0].device_id
    now = window_floor(datetime.now(UTC), 15)
    recent = score(device, now - timedelta(hours=1))
    score(device, now - timedelta(hours=30))

    body = user_client.get(f"/api/v1/devices/{device}/scores/").json()

    assert [s["score_id"] for s in body] == [str(recent.score_id)]


def test_a_bad_datetime_is_a_400_naming_the_field(user_client, devices):
    url = f"/api/v1/devices/{devices[0].device_id}/scores/"

    bad = user_client.get(url, {"since": "yesterday"})
    backwards = user_client.get(url, {"since": END.isoformat(), "until": "2026-11-01T00:00Z"})

    assert bad.status_code == backwards.status_code == 400
    assert list(bad.json()) == ["since"]
    assert "Datetime has wrong format" in bad.json()["since"][0]
    assert backwards.json() == {"since": ["must not be after until"]}


def test_scores_of_an_unknown_device_are_a_404(user_client):
    assert user_client.get("/api/v1/devices/REF-NOPE/scores/").status_code == 404


def test_an_operator_sees_no_scores_of_another_region_nor_that_the_device_exists(
    user_client, admin_client, devices
):
    """Issue 12: an out-of-scope device answers exactly as an unknown one does."""
    (elsewhere,) = register_devices(1, region="EU-N", site_no=7)
    score(elsewhere.device_id, END - timedelta(hours=1))
    score(devices[0].device_id, END - timedelta(hours=1))
    window = {"since": (END - timedelta(hours=2)).isoformat(), "until": END.isoformat()}

    foreign = user_client.get(f"/api/v1/devices/{elsewhere.device_id}/scores/", window)
    unknown = user_client.get("/api/v1/devices/REF-NOPE-00000/scores/", window)
    own = user_client.get(f"/api/v1/devices/{devices[0].device_id}/scores/", window)
    fleet_wide = admin_client.get(f"/api/v1/devices/{elsewhere.device_id}/scores/", window)

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert foreign["Content-Type"] == unknown["Content-Type"]
    assert [s["device_id"] for s in own.json()] == [devices[0].device_id]
    assert [s["device_id"] for s in fleet_wide.json()] == [elsewhere.device_id]


# ---------------------------------------------------------------- schema


def test_every_endpoint_is_in_the_openapi_schema_with_its_codes(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    expected = {
        ("/api/v1/models/", "get"): ("models_list", {"200", "400", "403"}),
        ("/api/v1/models/{model_id}/", "get"): ("models_retrieve", {"200", "403", "404"}),
        ("/api/v1/models/{model_id}/promote/", "post"): (
            "models_promote",
            {"200", "400", "403", "404", "413", "415"},
        ),
        ("/api/v1/models/rollback/", "post"): (
            "models_rollback",
            {"200", "400", "403", "413", "415"},
        ),
        ("/api/v1/models/train/", "post"): ("models_train", {"202", "400", "403", "413", "415"}),
        ("/api/v1/scoring-runs/", "get"): ("scoring_runs_list", {"200", "403"}),
        ("/api/v1/scoring-runs/", "post"): (
            "scoring_runs_create",
            {"201", "400", "403", "409", "413", "415"},
        ),
        ("/api/v1/scoring-runs/{run_id}/", "get"): (
            "scoring_runs_retrieve",
            {"200", "403", "404"},
        ),
        ("/api/v1/devices/{device_id}/scores/", "get"): (
            "device_scores_list",
            {"200", "400", "403", "404"},
        ),
    }
    for (path, method), (operation_id, codes) in expected.items():
        operation = schema["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert set(operation["responses"]) == codes, operation_id
    runs = schema["paths"]["/api/v1/scoring-runs/"]["get"]
    assert {p["name"] for p in runs["parameters"]} == {"limit", "offset"}
