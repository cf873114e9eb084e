"""The ML engineer dashboard and the data-health page, and their JSON API: they render for
ML engineers (and admins) from what the monitoring jobs stored, and are refused to
operators and managers."""

import numpy as np
import pytest

from tests.monitoring.ml_cast import N, seed_dashboards
from tests.registry.console_cast import api_as, cast_of_roles

pytestmark = [pytest.mark.django_db]

ML_PAGE, DATA_PAGE = "/monitoring/ml/", "/monitoring/data/"
API = "/api/v1/monitoring/"


@pytest.fixture
def people(db):
    return cast_of_roles()


@pytest.fixture
def stored(db):
    return seed_dashboards()


def page(user, url):
    client = api_as(user)
    return client.get(url)


# ---------------------------------------------------------------- pages


def test_ml_dashboard_renders_for_the_ml_engineer(people, stored):
    response = page(people["ml_engineer"], ML_PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    for section in (
        "Score distribution per production model",
        "Model × model agreement",
        "Contamination trend",
        "Feature drift",
        "Top 10 most-flagged devices",
        "Champion vs challenger",
        "Retraining triggers",
        "Model registry actions",
    ):
        assert section in html
    # One live histogram per production model, with its figure JSON beside it.
    for model in ("isolation_forest_v1", "statistical_baseline_v1"):
        assert f'data-figure-id="histogram-{model}"' in html
        assert f'id="fig-histogram-{model}"' in html
    assert 'data-live-figures="/api/v1/monitoring/ml/figures/"' in html
    assert "isolation_forest_v1 · statistical_baseline_v1" in html  # the agreement pair
    # The drift table is sorted by KS, biggest first.
    order = [html.index(f'data-feature="{f}"') for f in ("temp_ambient_mean", "reading_count")]
    assert order == sorted(order) and "pipeline or baseline suspect" in html
    # The latest run flagged the last 12 devices: they lead the top-flagged table.
    assert f'href="/devices/{stored["fleet"][-1].device_id}/"' in html
    # The canary against production, from the run's comparison.
    assert 'data-candidate="isolation_forest_v2"' in html and "Latest canary" in html
    assert "<strong>isolation_forest_v2</strong> trained" in html  # registry actions
    # The latest run flags 12 % against a 5 % target: the monitor is listed with its runbook.
    assert 'data-monitor="model_anomaly_rate"' in html
    assert 'href="/runbooks/anomaly-rate-spike/"' in html


def test_ml_dashboard_is_open_to_admins_and_refused_to_operators_and_managers(people, stored):
    assert page(people["admin"], ML_PAGE).status_code == 200
    assert page(people["operator_a"], ML_PAGE).status_code == 403
    assert page(people["manager"], ML_PAGE).status_code == 403
    assert page(None, ML_PAGE).status_code == 302  # to the sign-in page


def test_data_health_renders_for_the_ml_engineer(people, stored):
    response = page(people["ml_engineer"], DATA_PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    for section in (
        "Sensors in the latest hour",
        "Quality flags in the latest hour",
        "Null rate per sensor per equipment model",
        "Drift per cohort",
        "Training-serving skew",
        "Daily summary",
    ):
        assert section in html
    for figure in ("null-rates", "flag-mix", "completeness"):
        assert f'data-figure-id="{figure}"' in html
    # 20 of the 40 reporting devices sent no humidity: availability 50 %, an alert.
    assert 'data-monitor="data_sensor_availability"' in html
    assert 'href="/runbooks/sensor-availability/"' in html
    assert "50.0 %" in html
    assert "isolation_forest_v1: 1 of 1 checks breached" in html
    assert 'data-scope="fleet"' in html


def test_data_health_is_refused_to_operators_and_managers(people, stored):
    assert page(people["admin"], DATA_PAGE).status_code == 200
    assert page(people["operator_b"], DATA_PAGE).status_code == 403
    assert page(people["manager"], DATA_PAGE).status_code == 403


def test_pages_render_before_any_job_has_run(people, db):
    for url in (ML_PAGE, DATA_PAGE):
        response = page(people["ml_engineer"], url)
        assert response.status_code == 200
    html = page(people["ml_engineer"], ML_PAGE).content.decode()
    assert "No production model yet." in html and "No triggers yet" in html


def test_trigger_history_is_listed(people, stored):
    from monitoring.models import RetrainingTrigger

    RetrainingTrigger.objects.create(
        trigger_kind="feature_drift",
        model_kind="isolation_forest",
        fired_at=stored["now"],
        summary="6 features drifting for 7 days",
        action="retrain",
        status="promoted",
    )
    html = page(people["ml_engineer"], ML_PAGE).content.decode()
    assert "6 features drifting for 7 days" in html and "promoted" in html
    body = api_as(people["ml_engineer"]).get(f"{API}ml/summary/").json()
    assert body["retraining_triggers"][0]["trigger_kind"] == "feature_drift"


def test_no_trigger_yet_is_said_and_links_the_retraining_page(people, stored):
    html = page(people["ml_engineer"], ML_PAGE).content.decode()
    assert "No triggers yet." in html and 'href="/monitoring/retraining/"' in html


# ---------------------------------------------------------------- API


def test_ml_summary_api(people, stored):
    response = api_as(people["ml_engineer"]).get(f"{API}ml/summary/")

    assert response.status_code == 200
    body = response.json()
    assert body["agreement"]["models"] == ["isolation_forest_v1", "statistical_baseline_v1"]
    assert body["agreement"]["matrix"][0][0] == 1.0
    pair = body["agreement"]["pairs"][0]
    assert pair["devices"] == N and 0 < pair["value"] <= 1
    contamination = {c["model_id"]: c for c in body["contamination"]}
    assert [p["anomaly_rate"] for p in contamination["isolation_forest_v1"]["points"]] == [
        0.05,
        0.12,
    ]
    assert contamination["isolation_forest_v1"]["target"] == 0.05
    assert len(body["top_flagged"]) == 10
    assert body["top_flagged"][0]["flags"] == 2  # flagged by both production models
    challenger = body["champion_challenger"][0]
    assert (challenger["candidate"], challenger["champion"]) == (
        "isolation_forest_v2",
        "isolation_forest_v1",
    )
    assert len(challenger["history"]) == 2 and challenger["histograms"]["run_id"]
    assert {m["monitor"] for m in body["open_monitors"]} >= {"model_anomaly_rate"}
    assert body["open_monitors"][0]["runbook"]["url"].startswith("/runbooks/")
    assert body["feedback"]["fp_rate_30d"] is None  # no HIGH/CRITICAL alert yet


@pytest.mark.parametrize("who", ["operator_a", "manager", None])
def test_ml_and_data_api_refuse_everyone_but_ml_engineers_and_admins(people, who):
    user = people[who] if who else None
    for url in ("ml/summary/", "ml/figures/", "ml/drift/", "data/summary/", "data/daily/"):
        assert api_as(user).get(f"{API}{url}").status_code in (401, 403), url
    assert api_as(people["admin"]).get(f"{API}ml/summary/").status_code == 200


def test_figures_api(people, stored):
    ml = api_as(people["ml_engineer"]).get(f"{API}ml/figures/").json()
    ids = {f["id"] for f in ml["figures"]}
    assert ids == {
        "histogram-isolation_forest_v1",
        "histogram-statistical_baseline_v1",
        "agreement",
        "contamination",
        "challenger-isolation_forest_v2",
    }
    histogram = next(f for f in ml["figures"] if f["id"] == "histogram-isolation_forest_v1")
    today, before = histogram["figure"]["data"][1], histogram["figure"]["data"][0]
    assert today["name"] == "last 24 h" and before["name"] == "7 days before"
    assert sum(today["y"]) == pytest.approx(1.0) and sum(before["y"]) == pytest.approx(1.0)
    data = api_as(people["ml_engineer"]).get(f"{API}data/figures/").json()
    assert [f["id"] for f in data["figures"]] == ["null-rates", "flag-mix", "completeness"]


def test_drift_api_sorts_by_ks_and_validates_its_query(people, stored):
    client = api_as(people["ml_engineer"])
    body = client.get(f"{API}ml/drift/", {"window": 60, "trend": 3}).json()
    assert [r["feature"] for r in body["rows"]] == [
        "temp_ambient_mean",
        "reading_count",
        "humidity_mean",
    ]
    assert body["rows"][0]["ks_trend"] == [None, None, 0.4] and body["pipeline_suspect"]
    bad = client.get(f"{API}ml/drift/", {"window": 15, "trend": 0})
    assert bad.status_code == 400 and set(bad.json()) == {"window", "trend"}
    empty = client.get(f"{API}ml/drift/", {"window": 1440}).json()
    assert empty["rows"] == [] and empty["window_end"] is None


def test_run_metrics_and_top_flagged_api(people, stored):
    client = api_as(people["ml_engineer"])
    rows = client.get(f"{API}ml/runs/{stored['run'].pk}/metrics/").json()
    rates = {(r["model_id"], r["slice"]): r["value"] for r in rows if r["metric"] == "anomaly_rate"}
    assert rates[("isolation_forest_v1", "")] == 0.12
    assert client.get(f"{API}ml/runs/999999/metrics/").status_code == 404
    assert len(client.get(f"{API}ml/top-flagged/", {"hours": 2}).json()) == 10
    bad = client.get(f"{API}ml/top-flagged/", {"hours": 0})
    assert bad.status_code == 400 and "hours" in bad.json()


def test_data_api(people, stored):
    client = api_as(people["ml_engineer"])
    summary = client.get(f"{API}data/summary/").json()
    sensors = {s["sensor"]: s for s in summary["latest_hour"]["sensors"]}
    assert sensors["humidity"]["availability"] == 0.5 and sensors["humidity"]["devices"] == 40
    assert summary["latest_hour"]["null_rate_by_model"]["WF-5HP"]["humidity"] == 0.5
    assert summary["skew"][0]["breaches"] == 1
    assert summary["drift"][0]["scope"] == "fleet" and summary["drift"][0]["pipeline_suspect"]
    assert {m["monitor"] for m in summary["open_monitors"]} == {"data_sensor_availability"}
    hourly = client.get(f"{API}data/hourly/", {"metric": "null_rate", "key": "humidity"}).json()
    assert [r["value"] for r in hourly] == [0.5]
    by_model = client.get(
        f"{API}data/hourly/", {"metric": "null_rate", "key": "humidity", "scope": "WF-5HP"}
    ).json()
    assert by_model[0]["scope"] == "WF-5HP"
    bad = client.get(f"{API}data/hourly/", {"metric": "nonsense", "hours": 1000})
    assert bad.status_code == 400 and set(bad.json()) == {"metric", "hours"}
    daily = client.get(f"{API}data/daily/", {"days": 7}).json()
    assert len(daily) == 1 and "null_rates" in daily[0]


def test_histogram_compares_the_last_day_with_the_week_before(people, stored):
    from monitoring.ml_dashboard import score_histograms

    entries = {e["model_id"]: e for e in score_histograms(now=stored["now"])}
    forest = entries["isolation_forest_v1"]
    # The run 1 h ago is "today", the one 30 h ago the baseline: 100 scores each.
    assert sum(forest["today"]) == N and sum(forest["baseline"]) == N
    assert forest["today"][18] == 12 and forest["baseline"][18] == 5  # the 0.9 flags
    assert np.isclose(sum(forest["today_share"]), 1.0)
