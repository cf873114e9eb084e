"""D11: the regression feature set, canary reports and the gates they put on promotion."""

import pytest
from django.db import DatabaseError, transaction

from scoring.comparison import CANARY_GATES, compare, kl_divergence, top_overlap
from scoring.models import ModelVersion, RegressionFeatures
from scoring.services.registry import RegistryError, model_set_role
from scoring.services.training import model_train
from scoring.services.validation import (
    RegressionSetExists,
    promotion_blockers,
    regression_set_build,
)
from scoring.tasks import dispatch_run
from tests.scoring.conftest import END, build_history
from tests.scoring.test_batch_scoring import wait_for_run

pytestmark = [pytest.mark.storage]


def test_kl_and_overlap_by_hand():
    import numpy as np
    import pandas as pd

    same = np.array([0.1, 0.2, 0.8])
    assert kl_divergence(same, same) == pytest.approx(0.0, abs=1e-9)
    assert kl_divergence(np.array([0.9, 0.9]), np.array([0.1, 0.1])) > 1.0
    a = pd.Series([0.9, 0.8, 0.1, 0.0], index=list("abcd"))
    b = pd.Series([0.1, 0.8, 0.9, 0.0], index=list("abcd"))
    assert top_overlap(a, b, n=2) == 0.5


def test_compare_names_every_failed_gate():
    import pandas as pd

    reference = pd.DataFrame(
        {"anomaly_score": [0.1] * 95 + [0.9] * 5, "anomaly_flag": [False] * 95 + [True] * 5},
        index=[f"d{i}" for i in range(100)],
    )
    noisy = reference.assign(anomaly_score=0.8, anomaly_flag=True)
    result = compare(candidate=noisy, reference=reference, gates=CANARY_GATES)
    assert not result.passed
    assert any("contamination changes by +95.0%" in f for f in result.failures)
    assert any(f.startswith("mean absolute score difference") for f in result.failures)
    assert any(f.startswith("KL divergence") for f in result.failures)


@pytest.mark.django_db(transaction=True)  # SET LOCAL must end with a real transaction
def test_regression_set_is_built_once_and_read_only(scoring_settings):
    count = regression_set_build(devices=60)
    assert count == RegressionFeatures.objects.count() >= 55
    cases = set(RegressionFeatures.objects.values_list("case", flat=True))
    assert "normal" in cases and len(cases) >= 4  # edge cases beside normal devices
    with pytest.raises(RegressionSetExists):
        regression_set_build(devices=60)
    with pytest.raises(DatabaseError, match="read-only"), transaction.atomic():
        RegressionFeatures.objects.update(case="tampered")
    with pytest.raises(DatabaseError, match="read-only"), transaction.atomic():
        RegressionFeatures.objects.all().delete()
    assert regression_set_build(devices=60, replace=True) == count


@pytest.fixture
def fleet_with_production(scoring_settings, transactional_db):
    build_history(devices=40, hours=10)
    regression_set_build(devices=80)
    first = model_train(kind="isolation_forest", actor="alice", now=END)
    assert first.validation["regression"]["passed"]  # nothing to regress against yet
    return model_set_role(version=first, role="production", actor="alice", reason="first")


def test_a_candidate_that_flags_far_more_is_blocked(fleet_with_production):
    bad = model_train(kind="isolation_forest", actor="alice", now=END, threshold=0.3)
    report = bad.validation["regression"]
    assert not report["passed"] and report["reference"] == "isolation_forest_v1"
    with pytest.raises(RegistryError, match="cannot be promoted: regression: "):
        model_set_role(version=bad, role="production", actor="alice", reason="try")
    assert ModelVersion.objects.get(pk=fleet_with_production.pk).role == "production"


def test_a_good_candidate_passes_canary_and_is_promoted(fleet_with_production, celery_worker):
    good = model_train(kind="isolation_forest", actor="alice", now=END)
    assert good.validation["regression"]["passed"]
    assert promotion_blockers(version=good) == ["no canary comparison with isolation_forest_v1 yet"]
    model_set_role(version=good, role="canary", actor="alice", reason="canary it")

    run = wait_for_run(dispatch_run(trigger="on_demand", window_end=END, requested_by="test"))

    assert run.comparison["isolation_forest_v2"]["passed"]
    assert run.comparison["isolation_forest_v2"]["top_overlap"] == 1.0
    good.refresh_from_db()
    model_set_role(version=good, role="production", actor="alice", reason="passed canary")
    assert ModelVersion.objects.get(model_id="isolation_forest_v1").role == "retired"


def test_canary_scores_never_alert(fleet_with_production, celery_worker):
    from alerts.models import DeviceAlert

    noisy = model_train(kind="isolation_forest", actor="alice", now=END, threshold=0.05)
    model_set_role(version=noisy, role="canary", actor="alice", reason="see how it does")
    run = wait_for_run(dispatch_run(trigger="on_demand", window_end=END, requested_by="test"))
    assert not run.comparison["isolation_forest_v2"]["passed"]
    assert not DeviceAlert.objects.filter(model_id="isolation_forest_v2").exists()


def test_a_shadow_version_waits_out_its_period(fleet_with_production, settings):
    settings.FLEETMON_SHADOW_DAYS = 7
    shadow = model_train(kind="isolation_forest", actor="alice", now=END)
    model_set_role(version=shadow, role="shadow", actor="alice", reason="shadow it")
    shadow.refresh_from_db()
    assert any("shadow period of 7 days" in b for b in promotion_blockers(version=shadow))


def test_force_promotes_and_records_what_it_overrode(fleet_with_production):
    bad = model_train(kind="isolation_forest", actor="alice", now=END, threshold=0.3)
    model_set_role(version=bad, role="production", actor="bob", reason="incident", force=True)
    event = bad.events.get(action="promoted")
    assert event.actor == "bob" and event.details["overridden"]
