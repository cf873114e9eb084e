"""The six retraining triggers of domain §5.7 (and the hit-rate one) at and around their
limits: pure functions, no database."""

from datetime import UTC, date, datetime, timedelta

import pytest

from monitoring.triggers import (
    DriftDay,
    HitCounts,
    Limits,
    PairAgreement,
    RunAgreement,
    RunRate,
    agreement_check,
    anomaly_rate_check,
    calendar_check,
    feature_drift_check,
    fleet_change_check,
    fp_spike_check,
    hit_rate_check,
    outlier_model,
)

LIMITS = Limits()
NOW = datetime(2026, 11, 20, 4, 10, tzinfo=UTC)


def drift_days(*breached: int, suspect_last: bool = False, start=date(2026, 11, 10)):
    return [
        DriftDay(
            day=start + timedelta(days=i),
            features_breached=n,
            features_total=45,
            pipeline_suspect=suspect_last and i == len(breached) - 1,
        )
        for i, n in enumerate(breached)
    ]


# ---------------------------------------------------------------- feature drift


def test_feature_drift_fires_after_seven_days_of_more_than_five_features():
    finding = feature_drift_check(drift_days(0, 6, 6, 7, 9, 6, 8, 6), limits=LIMITS)
    assert finding.fired and finding.action == "retrain" and not finding.skip_reason
    assert finding.evidence["streak_days"] == 7
    assert "each of the last 7 days (up to 9)" in finding.summary


@pytest.mark.parametrize(
    "breached",
    [
        (6, 6, 6, 6, 6, 6),  # six days: one short
        (6, 6, 6, 5, 6, 6, 6, 6),  # exactly five features on one day breaks the streak
        (6, 6, 6, 6, 6, 6, 6, 2),  # the streak must reach the newest day
        (5, 5, 5, 5, 5, 5, 5, 5),  # "more than five"
    ],
)
def test_feature_drift_does_not_fire_below_its_limits(breached):
    assert not feature_drift_check(drift_days(*breached), limits=LIMITS).fired


def test_a_missing_day_breaks_the_streak():
    days = drift_days(6, 6, 6) + drift_days(6, 6, 6, 6, start=date(2026, 11, 14))
    assert not feature_drift_check(days, limits=LIMITS).fired  # 11-13 missing
    assert feature_drift_check(
        drift_days(6, 6, 6) + drift_days(6, 6, 6, 6, start=date(2026, 11, 13)), limits=LIMITS
    ).fired


def test_feature_drift_is_skipped_when_the_pipeline_is_suspect():
    finding = feature_drift_check(drift_days(*[20] * 7, suspect_last=True), limits=LIMITS)
    assert finding.fired and "pipeline" in finding.skip_reason


def test_seasonal_feature_drift_asks_for_a_baseline_update():
    finding = feature_drift_check(drift_days(*[8] * 7), limits=LIMITS, seasonal=True)
    assert finding.fired and finding.action == "baseline_update"


# ---------------------------------------------------------------- anomaly rate


def rates(*values: float, scored: int = 1000):
    start = datetime(2026, 11, 19, tzinfo=UTC)
    return [
        RunRate(
            run_id=i + 1,
            window_end=start + timedelta(hours=i),
            scored=scored,
            flagged=round(v * scored),
        )
        for i, v in enumerate(values)
    ]


def test_anomaly_rate_fires_off_target_by_more_than_3pp_for_5_runs():
    finding = anomaly_rate_check(rates(0.081, 0.09, 0.12, 0.10, 0.019), target=0.05, limits=LIMITS)
    assert finding.fired and finding.action == "alert_ml"
    assert [r["rate"] for r in finding.evidence["runs"]] == [0.081, 0.09, 0.12, 0.10, 0.019]


@pytest.mark.parametrize(
    "values",
    [
        (0.08, 0.08, 0.08, 0.08, 0.08),  # exactly 3 pp: at the limit, not over it
        (0.02, 0.02, 0.02, 0.02, 0.02),  # exactly 3 pp below
        (0.09, 0.09, 0.09, 0.09),  # four runs only
        (0.09, 0.09, 0.05, 0.09, 0.09, 0.09),  # one of the newest five is on target
    ],
)
def test_anomaly_rate_does_not_fire_at_or_inside_its_limits(values):
    assert not anomaly_rate_check(rates(*values), target=0.05, limits=LIMITS).fired


def test_anomaly_rate_uses_only_the_newest_runs():
    assert anomaly_rate_check(
        rates(0.05, 0.09, 0.09, 0.09, 0.09, 0.09), target=0.05, limits=LIMITS
    ).fired


# ---------------------------------------------------------------- agreement


def agreement_runs(*shares: float, devices: int = 1000):
    """Runs whose mean pairwise agreement is each share: two pairs with the cohort model
    agree (3 s - 1) / 2 of the time, the third pair always."""
    start = datetime(2026, 11, 17, 3, tzinfo=UTC)
    return [
        RunAgreement(
            run_id=i + 1,
            window_end=start + timedelta(days=i),
            pairs=(
                PairAgreement("isolation_forest_v1", "statistical_baseline_v1", devices, devices),
                PairAgreement(
                    "isolation_forest_v1",
                    "cohort_isolation_forest_v1",
                    devices,
                    round(devices * (3 * s - 1) / 2),
                ),
                PairAgreement(
                    "cohort_isolation_forest_v1",
                    "statistical_baseline_v1",
                    devices,
                    round(devices * (3 * s - 1) / 2),
                ),
            ),
        )
        for i, s in enumerate(shares)
    ]


def test_agreement_fires_under_80_percent_for_3_daily_runs_and_names_the_outlier():
    runs = agreement_runs(0.79, 0.70, 0.75)
    finding = agreement_check(runs, limits=LIMITS)
    assert finding.fired and finding.action == "alert_ml"
    assert finding.evidence["outlier_model"] == "cohort_isolation_forest_v1"
    assert "cohort_isolation_forest_v1" in finding.summary


@pytest.mark.parametrize("shares", [(0.8, 0.8, 0.8), (0.7, 0.7), (0.7, 0.81, 0.7), (0.7, 0.7, 0.9)])
def test_agreement_does_not_fire_at_or_above_80_percent_or_with_fewer_runs(shares):
    assert not agreement_check(agreement_runs(*shares), limits=LIMITS).fired


def test_outlier_is_the_model_that_agrees_least():
    pairs = [
        PairAgreement("a", "b", 10, 9),
        PairAgreement("a", "c", 10, 4),
        PairAgreement("b", "c", 10, 5),
    ]
    assert outlier_model(pairs) == "c"


# ---------------------------------------------------------------- false positives


@pytest.mark.parametrize(
    ("alerts", "fps", "fired"),
    [(100, 21, True), (100, 20, False), (10, 3, True), (9, 9, False), (0, 0, False)],
)
def test_fp_spike_over_20_percent_of_at_least_10_alerts(alerts, fps, fired):
    finding = fp_spike_check(alerts=alerts, false_positives=fps, limits=LIMITS)
    assert finding.fired is fired
    assert finding.evidence["alerts"] == alerts


# ---------------------------------------------------------------- fleet change


@pytest.mark.parametrize(("new", "fired"), [(51, True), (50, False), (0, False)])
def test_fleet_change_over_5_percent_new(new, fired):
    finding = fleet_change_check(active=1000, new=new, limits=LIMITS)
    assert finding.fired is fired
    assert finding.action == ("retrain" if fired else "")


def test_fleet_change_on_an_empty_fleet_does_not_fire():
    assert not fleet_change_check(active=0, new=0, limits=LIMITS).fired


# ---------------------------------------------------------------- calendar


@pytest.mark.parametrize(
    ("kind", "age", "fired"),
    [
        ("isolation_forest", timedelta(days=14, seconds=1), True),
        ("isolation_forest", timedelta(days=14), False),
        ("statistical_baseline", timedelta(days=45, seconds=1), True),
        ("statistical_baseline", timedelta(days=44), False),
        ("cohort_isolation_forest", timedelta(days=30), False),
    ],
)
def test_calendar_safety_net_14_days_for_the_forest_45_for_the_others(kind, age, fired):
    finding = calendar_check(kind=kind, last_retrain=NOW - age, now=NOW, limits=LIMITS)
    assert finding.fired is fired


def test_calendar_without_any_version_does_not_fire():
    assert not calendar_check(
        kind="isolation_forest", last_retrain=None, now=NOW, limits=LIMITS
    ).fired


# ---------------------------------------------------------------- hit rate


def hits(alerts: int, hit: int, weeks_back: int) -> HitCounts:
    end = NOW - timedelta(days=7 + 30 * weeks_back)
    return HitCounts(start=end - timedelta(days=30), end=end, alerts=alerts, hits=hit)


@pytest.mark.parametrize(
    ("recent", "previous", "fired"),
    [
        ((100, 29), (100, 40), True),  # 40 % -> 29 %: down 11 pp
        ((100, 30), (100, 40), False),  # down exactly 10 pp
        ((19, 0), (100, 40), False),  # too few recent alerts to say
        ((100, 50), (100, 40), False),  # rising
    ],
)
def test_hit_rate_decline_over_10pp(recent, previous, fired):
    finding = hit_rate_check(recent=hits(*recent, 0), previous=hits(*previous, 1), limits=LIMITS)
    assert finding.fired is fired


def test_limits_can_be_shrunk():
    short = Limits(drift_days=3, drift_min_features=1)
    assert feature_drift_check(drift_days(2, 2, 2), limits=short).fired
