"""Model-layer figures and monitors after a scoring run, on crafted runs and scores
(domain §5.3): anomaly rate vs contamination, spike, std collapse, mean and p95 shift,
slices, agreement, high-score disagreements, FP rate and hit rate."""

from datetime import timedelta

import numpy as np
import pytest

from alerts.models import MaintenanceEvent
from monitoring.model_health import (
    alert_hit_rate,
    contamination_target,
    false_positive_rates,
    model_health_compute,
)
from monitoring.models import ModelRunMetric, MonitorAlert
from monitoring.tasks import model_health_task
from scoring.models import ModelScore, ModelVersionEvent
from tests.monitoring.ml_cast import COLD, N, T, make_fleet, run_at, score, spread, version
from tests.registry.console_cast import make_alert

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def fleet(db):
    return make_fleet()


def compute(run, now=None):
    return {
        (r.model_id, r.metric, r.slice): r
        for r in model_health_compute(run_id=run.pk, now=now or run.finished_at)
    }


def opened(monitor):
    return {a.subject: a for a in MonitorAlert.objects.filter(monitor=monitor, status="open")}


def test_per_model_figures_of_a_run(fleet):
    forest = version("isolation_forest")
    canary = version("isolation_forest", 2, role="canary")
    fallback = version("rules_fallback")
    run = run_at()
    values = spread(N, flagged=5)
    score(run, forest, fleet, values)
    score(run, canary, fleet, spread(N, mean=0.4, flagged=8))
    score(run, fallback, fleet, [0.0] * N)

    got = compute(run)

    assert got[("isolation_forest_v1", "devices", "")].value == N
    assert got[("isolation_forest_v1", "mean_score", "")].value == pytest.approx(np.mean(values))
    assert got[("isolation_forest_v1", "score_std", "")].value == pytest.approx(np.std(values))
    assert got[("isolation_forest_v1", "score_p95", "")].value == pytest.approx(
        np.percentile(values, 95)
    )
    rate = got[("isolation_forest_v1", "anomaly_rate", "")]
    assert (rate.value, rate.kind, rate.deployment_role) == (0.05, "isolation_forest", "production")
    # The five highest scores are the last five devices: cold, US-E, DC-2HP.
    assert got[("isolation_forest_v1", "anomaly_rate", f"cohort_id:{COLD}")].value == 5 / 40
    assert got[("isolation_forest_v1", "anomaly_rate", "region:US-W")].value == 0.0
    assert got[("isolation_forest_v1", "anomaly_rate", "equipment_model:DC-2HP")].devices == 40
    assert got[("isolation_forest_v1", "contamination_target", "")].value == 0.05
    assert got[("isolation_forest_v2", "anomaly_rate", "")].deployment_role == "canary"
    assert got[("isolation_forest_v2", "anomaly_rate", "")].value == 0.08
    assert not any(k[0] == "rules_fallback_v1" for k in got)  # a safety net, not a model
    assert ModelRunMetric.objects.filter(run=run).count() == len(got)
    # The canary neither votes nor raises: one production model, no agreement figures.
    assert ("", "pairwise_agreement", "pair:isolation_forest_v1|isolation_forest_v2") not in got
    assert not MonitorAlert.objects.filter(subject__contains="_v2").exists()


def test_a_rerun_replaces_the_runs_figures(fleet):
    forest = version("isolation_forest")
    run = run_at()
    score(run, forest, fleet, spread(N, flagged=5))
    first = len(compute(run))
    ModelScore.objects.filter(run_id=run.pk, device_id=fleet[0].device_id).update(
        anomaly_score=0.99, anomaly_flag=True
    )
    second = compute(run)
    assert len(second) == first == ModelRunMetric.objects.filter(run=run).count()
    assert second[("isolation_forest_v1", "anomaly_rate", "")].value == 0.06
    assert model_health_task(run.pk)["rows"] == first
    assert model_health_task(987654) is None


def test_contamination_target_from_params_then_training_then_default(fleet):
    assert contamination_target(version("isolation_forest", params={"contamination": 0.04})) == 0.04
    baseline = version("statistical_baseline", params={"z_at_threshold": 4.5})
    ModelVersionEvent.objects.create(
        model_version=baseline,
        action="trained",
        to_role="draft",
        actor="test",
        details={"validation_anomaly_rate": 0.012},
    )
    assert contamination_target(baseline) == 0.012
    assert contamination_target(version("daily_baseline", params={})) == 0.05


@pytest.mark.parametrize(
    ("flagged", "off_target", "spike"),
    [
        (8, False, False),  # 8 %: 3 points over the 5 % target, the limit
        (9, True, False),
        (2, False, False),  # 2 %: 3 points under
        (1, True, False),
        (15, True, False),  # 15 %: the spike limit itself
        (16, True, True),
    ],
)
def test_anomaly_rate_against_the_contamination_target(fleet, flagged, off_target, spike):
    run = run_at()
    score(run, version("isolation_forest"), fleet, spread(N, flagged=flagged))
    compute(run)
    rate = opened("model_anomaly_rate").get("isolation_forest")
    assert (rate is not None) == off_target
    if rate:
        assert rate.layer == "model" and rate.runbook == "anomaly-rate-spike"
        assert rate.evidence["anomaly_rate"] == flagged / 100
        assert rate.routed_to == "ML engineers"
    spiked = opened("model_anomaly_rate_spike").get("isolation_forest")
    assert (spiked is not None) == spike
    if spike:
        assert spiked.severity == "HIGH"


@pytest.mark.parametrize(("half_spread", "collapsed"), [(0.05, False), (0.049, True)])
def test_score_std_collapse(fleet, half_spread, collapsed):
    run = run_at()
    # Half the devices at 0.5 - s, half at 0.5 + s: a population std of exactly s.
    values = [0.5 - half_spread] * 50 + [0.5 + half_spread] * 50
    score(run, version("isolation_forest"), fleet, values, flags=[False] * 95 + [True] * 5)
    got = compute(run)
    assert got[("isolation_forest_v1", "score_std", "")].value == pytest.approx(half_spread)
    alert = opened("model_score_collapse").get("isolation_forest")
    assert (alert is not None) == collapsed
    if collapsed:
        assert alert.severity == "HIGH" and alert.runbook == "model-score-shift"


def history(fleet, model, means, *, start=T, flagged=5):
    """Earlier hourly runs, each computed like the real job would have."""
    for k, mean in enumerate(means, start=1):
        earlier = run_at(start - timedelta(hours=k))
        score(earlier, model, fleet, spread(N, mean=mean, flagged=flagged))
        compute(earlier)


@pytest.mark.parametrize(("shift", "fires"), [(0.05, False), (0.06, True), (-0.06, True)])
def test_mean_score_against_its_seven_day_mean(fleet, shift, fires):
    forest = version("isolation_forest")
    history(fleet, forest, [0.3, 0.3, 0.3])
    run = run_at()
    # Shifting every unflagged score by `shift` moves the mean by 0.95 * shift.
    score(run, forest, fleet, spread(N, mean=0.3 + shift / 0.95, flagged=5))
    got = compute(run)
    mean = got[("isolation_forest_v1", "mean_score", "")]
    assert mean.value - mean.baseline == pytest.approx(shift)
    assert (opened("model_mean_score_shift").get("isolation_forest") is not None) == fires


def test_a_baseline_needs_three_earlier_runs_in_its_window(fleet):
    forest = version("isolation_forest")
    history(fleet, forest, [0.3, 0.3])
    old = run_at(T - timedelta(days=8))  # outside the 7-day mean window
    score(old, forest, fleet, spread(N, mean=0.3, flagged=5))
    compute(old)
    run = run_at()
    score(run, forest, fleet, spread(N, mean=0.6, flagged=5))
    got = compute(run)
    assert got[("isolation_forest_v1", "mean_score", "")].baseline is None
    assert got[("isolation_forest_v1", "score_p95", "")].baseline is not None  # 30 days
    assert not opened("model_mean_score_shift")


@pytest.mark.parametrize(("p95_shift", "fires"), [(0.1, False), (0.11, True)])
def test_p95_against_its_thirty_day_p95(fleet, p95_shift, fires):
    forest = version("isolation_forest")
    base = [0.1] * 90 + [0.5] * 10  # p95 0.5
    for k in (1, 24, 24 * 20):  # earlier runs over the last 30 days
        earlier = run_at(T - timedelta(hours=k))
        score(earlier, forest, fleet, base, flags=[False] * 95 + [True] * 5)
        compute(earlier)
    run = run_at()
    score(run, forest, fleet, [0.1] * 90 + [0.5 + p95_shift] * 10, flags=[False] * 95 + [True] * 5)
    got = compute(run)
    p95 = got[("isolation_forest_v1", "score_p95", "")]
    assert (p95.baseline, p95.value) == (pytest.approx(0.5), pytest.approx(0.5 + p95_shift))
    alert = opened("model_p95_shift").get("isolation_forest")
    assert (alert is not None) == fires


def flags_for(cold_flagged, warm_flagged):
    """Flags with `warm_flagged` of the 60 warm devices and `cold_flagged` of the 40 cold."""
    return [i < warm_flagged for i in range(60)] + [i < cold_flagged for i in range(40)]


@pytest.mark.parametrize(("cold_flagged", "fires"), [(3, False), (4, True)])  # 2.5 and 5 points
def test_slice_anomaly_rate_against_its_own_baseline(fleet, cold_flagged, fires):
    forest = version("isolation_forest")
    values = spread(N)
    for k in (1, 2, 3):
        earlier = run_at(T - timedelta(hours=k))
        score(earlier, forest, fleet, values, flags=flags_for(2, 3))  # cold at 5 %
        compute(earlier)
    run = run_at()
    score(run, forest, fleet, values, flags=flags_for(cold_flagged, 3))
    got = compute(run)
    cold = got[("isolation_forest_v1", "anomaly_rate", f"cohort_id:{COLD}")]
    assert cold.baseline == pytest.approx(0.05) and cold.value == cold_flagged / 40
    slices = opened("model_slice_anomaly_rate")
    assert (f"isolation_forest cohort_id:{COLD}" in slices) == fires
    assert ("isolation_forest region:US-E" in slices) == fires
    assert "isolation_forest cohort_id:WF-5HP/temperate" not in slices
    if fires:
        assert slices[f"isolation_forest cohort_id:{COLD}"].runbook == "slice-anomaly-rate"


def two_models(run, fleet, disagreements):
    forest, baseline = version("isolation_forest"), version("statistical_baseline")
    a = [i < 5 for i in range(N)]
    b = [(not f) if i >= N - disagreements else f for i, f in enumerate(a)]
    score(run, forest, fleet, spread(N), flags=a)
    score(run, baseline, fleet, spread(N), flags=b)


@pytest.mark.parametrize(("disagreements", "fires"), [(15, False), (16, True)])
def test_pairwise_agreement_below_85_percent(fleet, disagreements, fires):
    run = run_at()
    two_models(run, fleet, disagreements)
    got = compute(run)
    pair = got[("", "pairwise_agreement", "pair:isolation_forest_v1|statistical_baseline_v1")]
    assert pair.value == pytest.approx(1 - disagreements / 100) and pair.devices == N
    alert = opened("model_pairwise_agreement").get("isolation_forest ~ statistical_baseline")
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "model-agreement" and alert.layer == "model"


@pytest.mark.parametrize(("odd", "fires"), [(25, False), (26, True)])
def test_unanimous_agreement_below_75_percent(fleet, odd, fires):
    run = run_at()
    kinds = ("isolation_forest", "statistical_baseline", "cohort_isolation_forest")
    for j, kind in enumerate(kinds):
        # Each model is the odd one out on its own third of the `odd` devices.
        flags = [i < odd and i % 3 == j for i in range(N)]
        score(run, version(kind), fleet, spread(N), flags=flags)
    score(run, version("isolation_forest", 2, role="shadow"), fleet, spread(N), flags=[True] * N)
    got = compute(run)
    assert got[("", "unanimous_agreement", "")].value == pytest.approx(1 - odd / 100)
    alert = opened("model_unanimous_agreement").get(
        "cohort_isolation_forest, isolation_forest, statistical_baseline"
    )
    assert (alert is not None) == fires
    if fires:
        assert alert.severity == "HIGH" and alert.runbook == "model-divergence"


@pytest.mark.parametrize(("split", "fires"), [(50, False), (51, True)])
def test_more_than_50_high_score_disagreements(fleet, split, fires):
    run = run_at()
    forest, baseline = version("isolation_forest"), version("statistical_baseline")
    score(run, forest, fleet, [0.9] * split + [0.5] * (N - split), flags=[False] * N)
    score(run, baseline, fleet, [0.1] * N, flags=[False] * N)
    got = compute(run)
    assert got[("", "high_score_disagreements", "")].value == split
    assert (bool(opened("model_high_score_disagreement"))) == fires


def test_a_single_device_run_raises_nothing(fleet):
    run = run_at(device_id=fleet[0].device_id)
    score(run, version("isolation_forest"), fleet[:1], [0.99])
    got = compute(run)
    assert got[("isolation_forest_v1", "anomaly_rate", "")].value == 1.0
    assert not MonitorAlert.objects.exists()


def test_monitors_clear_when_a_later_run_is_healthy(fleet):
    forest = version("isolation_forest")
    bad = run_at(T - timedelta(hours=1))
    score(bad, forest, fleet, spread(N, flagged=20))
    compute(bad)
    assert opened("model_anomaly_rate_spike")
    good = run_at()
    score(good, forest, fleet, spread(N, flagged=5))
    compute(good)
    assert not opened("model_anomaly_rate_spike") and not opened("model_anomaly_rate")
    assert MonitorAlert.objects.get(monitor="model_anomaly_rate_spike").status == "resolved"


# ---------------------------------------------------------------- operator feedback


def alerts(fleet, specs):
    """specs: (days ago, severity, status, suppressed) -> alerts created at T - days."""
    return [
        make_alert(
            fleet[i % N],
            at=T - timedelta(days=days),
            severity=severity,
            status=status,
            suppressed=suppressed,
        )
        for i, (days, severity, status, suppressed) in enumerate(specs)
    ]


@pytest.mark.parametrize(("false_positives", "fires"), [(2, False), (3, True)])
def test_false_positive_rate_over_seven_and_thirty_days(fleet, false_positives, fires):
    recent = [(1, "HIGH", "false_positive", False)] * false_positives
    recent += [(2, "CRITICAL", "resolved", False)] * (10 - false_positives)
    noise = [
        (1, "MEDIUM", "false_positive", False),  # not HIGH or CRITICAL
        (1, "HIGH", "false_positive", True),  # a suppressed duplicate
        (31, "HIGH", "false_positive", False),  # older than 30 days
    ]
    older = [(10, "HIGH", "false_positive", False), (20, "HIGH", "open", False)]
    alerts(fleet, recent + noise + older)

    rates = false_positive_rates(now=T)
    assert rates[7] == (pytest.approx(false_positives / 10), 10)
    assert rates[30] == (pytest.approx((false_positives + 1) / 12), 12)

    run = run_at()
    score(run, version("isolation_forest"), fleet, spread(N, flagged=5))
    got = compute(run, now=T)
    assert got[("", "fp_rate_7d", "")].value == pytest.approx(false_positives / 10)
    alert = opened("model_false_positive_rate").get("HIGH+CRITICAL alerts, 7 days")
    assert (alert is not None) == fires
    if fires:
        assert alert.runbook == "false-positive-rate" and alert.evidence["alerts"] == 10


def test_false_positive_rate_needs_ten_judged_alerts(fleet):
    alerts(fleet, [(1, "HIGH", "false_positive", False)] * 9)
    run = run_at()
    score(run, version("isolation_forest"), fleet, spread(N, flagged=5))
    got = compute(run, now=T)
    assert got[("", "fp_rate_7d", "")].value == 1.0
    assert not opened("model_false_positive_rate")


def maintenance(device, when, *, alert=None):
    return MaintenanceEvent.objects.create(
        device=device,
        event_type="corrective",
        scheduled_date=when,
        created_by="test",
        created_at=when,
        triggered_by_alert=alert,
    )


def test_alert_hit_rate_against_maintenance_within_seven_days(fleet):
    hit, late, linked, missed, recent, medium = alerts(
        fleet,
        [
            (20, "HIGH", "resolved", False),
            (20, "CRITICAL", "resolved", False),
            (15, "HIGH", "in_progress", False),
            (12, "HIGH", "false_positive", False),
            (2, "HIGH", "open", False),  # too recent to judge
            (20, "MEDIUM", "resolved", False),  # not HIGH or CRITICAL
        ],
    )
    maintenance(hit.device, hit.alert_created_at + timedelta(days=3))
    maintenance(late.device, late.alert_created_at + timedelta(days=9))
    maintenance(linked.device, linked.alert_created_at + timedelta(days=12), alert=linked)
    maintenance(missed.device, missed.alert_created_at - timedelta(days=1))  # before it
    maintenance(recent.device, recent.alert_created_at + timedelta(hours=5))
    maintenance(medium.device, medium.alert_created_at + timedelta(days=1))

    assert alert_hit_rate(now=T) == (0.5, 4)
    run = run_at()
    score(run, version("isolation_forest"), fleet, spread(N, flagged=5))
    assert compute(run, now=T)[("", "hit_rate", "")].devices == 4


def test_a_run_without_scores_stores_only_the_fleet_feedback(fleet):
    run = run_at()
    got = compute(run)
    assert set(got) == {("", "fp_rate_30d", ""), ("", "fp_rate_7d", ""), ("", "hit_rate", "")}
    assert not MonitorAlert.objects.exists()
