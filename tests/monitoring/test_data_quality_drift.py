"""Drift monitors on top of the drift job: feature drift per scope, and the D8 meta-check
("pipeline or baseline suspect") firing instead of feature drift."""

from datetime import timedelta

import numpy as np
import pytest

from monitoring.data_quality import drift_monitors_evaluate
from monitoring.models import DriftCheck, FeatureDriftMetric, MonitorAlert
from monitoring.services.drift import drift_compute
from tests.monitoring import test_drift_service
from tests.monitoring.test_drift_service import COLD, HOT, W1, W2, W3, write_history

pytestmark = [pytest.mark.django_db]

FLEET = "fleet · 60 min"
fleet = test_drift_service.fleet  # the same two cohorts the drift job tests use


def alerts(monitor, status="open"):
    return {a.subject: a for a in MonitorAlert.objects.filter(monitor=monitor, status=status)}


def compute(*ends):
    for end in ends:
        drift_compute(window_end=end, minutes=60)


def test_nothing_stored_raises_nothing(db):
    assert drift_monitors_evaluate() == {"feature_drift": 0, "pipeline_suspect": 0}
    assert not MonitorAlert.objects.exists()


def test_a_feature_drifting_three_windows_raises_feature_drift_where_it_drifts(fleet):
    write_history(fleet, [W1, W2, W3], np.random.default_rng(2), ambient_shift={HOT: 5.0})
    compute(W1, W2)
    drift_monitors_evaluate(now=W2)
    # Two breaching windows are not drift yet; PSI on 30 devices is not read at all.
    assert not alerts("feature_drift")

    compute(W3)
    raised = drift_monitors_evaluate(now=W3)

    open_ = alerts("feature_drift")
    hot = open_[f"cohort {HOT} · 60 min"]
    assert hot.severity == "MEDIUM" and hot.layer == "data" and hot.runbook == "feature-drift"
    assert hot.evidence["drifting"] == ["temp_ambient_mean"]
    assert hot.evidence["features"][0]["feature"] == "temp_ambient_mean"
    assert open_[FLEET].evidence["drifting"] == ["temp_ambient_mean"]
    assert f"cohort {COLD} · 60 min" not in open_
    assert raised == {"feature_drift": 2, "pipeline_suspect": 0}
    assert not alerts("pipeline_suspect")


def test_more_than_thirty_percent_drifting_is_pipeline_suspect_instead(fleet):
    write_history(fleet, [W1, W2, W3], np.random.default_rng(4), shift_all=100.0)
    compute(W1, W2)
    drift_monitors_evaluate(now=W2)
    assert not alerts("pipeline_suspect")  # every feature breaches KS, none drifts yet
    compute(W3)
    raised = drift_monitors_evaluate(now=W3)

    suspect = alerts("pipeline_suspect")
    assert set(suspect) == {FLEET, f"cohort {HOT} · 60 min", f"cohort {COLD} · 60 min"}
    assert suspect[FLEET].severity == "HIGH" and suspect[FLEET].runbook == "pipeline-suspect"
    assert suspect[FLEET].evidence["features_drifting"] == 42
    assert suspect[FLEET].evidence["drifting_share"] == pytest.approx(42 / 45)
    # Instead of, not as well as: no feature-drift alert for those scopes.
    assert not alerts("feature_drift")
    assert raised == {"feature_drift": 0, "pipeline_suspect": 3}


def test_the_meta_check_clears_when_a_clean_window_follows(fleet):
    rng = np.random.default_rng(5)
    write_history(fleet, [W1, W2, W3], rng, shift_all=100.0)
    W4 = W3 + timedelta(hours=1)
    write_history(fleet, [W4], rng)
    compute(W1, W2, W3)
    drift_monitors_evaluate(now=W3)
    assert alerts("pipeline_suspect")

    compute(W4)
    drift_monitors_evaluate(now=W4)

    assert not alerts("pipeline_suspect") and not alerts("feature_drift")
    assert not DriftCheck.objects.filter(window_end=W4, pipeline_suspect=True).exists()
    resolved = alerts("pipeline_suspect", status="resolved")[FLEET]
    assert resolved.resolved_at == W4


def stored_check(*, ks_exceeded=False, drifting=False, psi=0.05, share=0.0, n_current=1000):
    """One stored drift window of the fleet with one interesting feature among 44 quiet."""
    common = {"window_start": W3 - timedelta(hours=1), "window_end": W3, "window_minutes": 60}
    DriftCheck.objects.create(
        computed_at=W3,
        scope="fleet",
        features_total=45,
        features_exceeded=int(ks_exceeded),
        features_drifting=int(drifting),
        drifting_share=share,
        pipeline_suspect=share > 0.3,
        baseline_rows=3000,
        current_rows=1000,
        **common,
    )
    FeatureDriftMetric.objects.create(
        computed_at=W3,
        scope="fleet",
        feature_name="humidity_mean",
        ks_statistic=0.3 if ks_exceeded else 0.02,
        ks_p_value=1e-6 if ks_exceeded else 0.8,
        psi_value=psi,
        drift_severity="significant" if psi > 0.2 else "none",
        ks_exceeded=ks_exceeded,
        drifting=drifting,
        n_baseline=3000,
        n_current=n_current,
        **common,
    )


@pytest.mark.parametrize(
    ("case", "severity"),
    [
        ({"ks_exceeded": True, "drifting": True, "psi": 0.15}, "MEDIUM"),
        ({"ks_exceeded": True, "psi": 0.25}, "LOW"),  # significant PSI, one KS breach
        ({"ks_exceeded": True, "psi": 1.2}, "HIGH"),  # [EVAL] emergency
        ({"ks_exceeded": True, "psi": 0.2}, None),  # PSI 0.2 is the edge, not past it
        ({"psi": 0.5}, None),  # PSI alone, KS quiet
        ({"ks_exceeded": True, "psi": 3.0, "n_current": 499}, None),  # too few rows for PSI
        ({"ks_exceeded": True, "drifting": True, "psi": 0.3, "share": 0.3}, "MEDIUM"),
        ({"ks_exceeded": True, "drifting": True, "psi": 0.3, "share": 14 / 45}, "suspect"),
    ],
)
def test_feature_drift_severity_ladder(db, case, severity):
    stored_check(**case)
    drift_monitors_evaluate(now=W3)
    drift, suspect = alerts("feature_drift").get(FLEET), alerts("pipeline_suspect").get(FLEET)
    if severity == "suspect":
        assert suspect is not None and drift is None
    elif severity is None:
        assert drift is None and suspect is None
    else:
        assert drift.severity == severity and suspect is None
