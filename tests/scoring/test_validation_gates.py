"""The validation gates: a quiet model deploys; one that flags too many, or misses the
regression set's known anomalies, does not (issue 11 item 3)."""

from datetime import timedelta

import pandas as pd
import pytest

from scoring.models import ModelRole, ModelVersionEvent
from scoring.services.registry import RegistryError, model_set_role
from scoring.services.training import TrainingFailed, model_train
from scoring.services.validation import KnownAnomalyGate, known_anomalies_check
from tests.scoring.history import (
    END,
    backfill_history,
    plant,
    register_fleet,
    regression_set_from_history,
)

GATE = KnownAnomalyGate(
    anomaly_cases=frozenset({"pump_seized", "door_left_open"}),
    min_cases=10,
    min_lift=0.15,
    min_z=2.33,
)


def labelled(**groups: tuple[int, int]) -> tuple[pd.Series, pd.Series]:
    """Cases and flags from {case: (windows, flagged)}."""
    cases, flags = [], []
    for case, (windows, flagged) in groups.items():
        cases += [case] * windows
        flags += [True] * flagged + [False] * (windows - flagged)
    return pd.Series(cases), pd.Series(flags)


# ---------------------------------------------------------------- the check itself


def test_a_model_that_flags_the_visible_anomalies_passes_whatever_its_normal_rate():
    cases, flags = labelled(normal=(300, 1), pump_seized=(10, 7), door_left_open=(10, 5))
    report = known_anomalies_check(cases=cases, flags=flags, gate=GATE)
    assert report["passed"] and report["judged"]
    assert report["anomaly_flag_rate"] == pytest.approx(0.6)
    assert report["normal_flag_rate"] == pytest.approx(1 / 300)
    assert report["by_case"]["pump_seized"] == {"windows": 10, "flag_rate": 0.7}


def test_a_model_blind_to_the_anomalies_fails_with_the_numbers():
    cases, flags = labelled(normal=(300, 15), pump_seized=(10, 1), door_left_open=(10, 1))
    report = known_anomalies_check(cases=cases, flags=flags, gate=GATE)
    assert not report["passed"]
    assert report["failures"] == [
        "flags 10% of 20 known anomaly windows and 5% of 300 normal ones: lift +5% "
        "(needs +15%), z 1.0 (needs 2.3)"
    ]


def test_a_lift_that_could_be_chance_fails_on_the_z_test():
    # 3 of 10 against 10 % of 30: a lift of 20 points, but 10 windows cannot show it clearly.
    cases, flags = labelled(normal=(30, 3), pump_seized=(10, 3))
    report = known_anomalies_check(cases=cases, flags=flags, gate=GATE)
    assert report["lift"] == pytest.approx(0.2)
    assert not report["passed"] and "z 1.5 (needs 2.3)" in report["failures"][0]


def test_slow_faults_are_reported_but_not_judged():
    cases, flags = labelled(normal=(100, 2), pump_seized=(12, 10), slow_leak=(20, 0))
    report = known_anomalies_check(cases=cases, flags=flags, gate=GATE)
    assert report["passed"]
    assert report["anomaly_windows"] == 12
    assert report["by_case"]["slow_leak"]["flag_rate"] == 0.0


def test_too_few_anomaly_windows_are_not_judged_and_say_why():
    cases, flags = labelled(normal=(100, 2), refrigerant_leak=(30, 0), pump_seized=(4, 0))
    report = known_anomalies_check(cases=cases, flags=flags, gate=GATE)
    assert report["passed"] and not report["judged"]
    assert report["note"].startswith("not judged: 4 windows of the anomaly cases")
    assert "FLEETMON_VALIDATION_ANOMALY_CASES" in report["note"]


# ---------------------------------------------------------------- training and promotion


@pytest.fixture
def quiet_history(db, settings, tmp_path):
    """40 healthy units, 16 h, with one anomalous window among the 480 validation windows."""
    settings.FLEETMON_ARTIFACT_DIR = str(tmp_path / "artifacts")
    settings.FLEETMON_VALIDATION_HOURS = 3
    settings.FLEETMON_TRAINING_GAP_HOURS = 1
    fleet = register_fleet({"WF-5HP": 40})
    backfill_history(fleet, hours=16)
    plant(fleet["WF-5HP"][0], END - timedelta(minutes=30), temp_evaporator_mean=30.0)
    return fleet


QUIET = {"z_at_threshold": 6.0}  # no healthy window gets near 6 sigma; the planted one does


@pytest.mark.django_db
def test_a_quiet_model_that_sees_the_known_anomalies_deploys(quiet_history):
    regression_set_from_history(visible=True)

    version = model_train(kind="statistical_baseline", actor="alice", now=END, params=QUIET)

    trained = ModelVersionEvent.objects.get(model_version=version, action="trained")
    rate = trained.details["validation_anomaly_rate"]
    assert rate == pytest.approx(1 / 480)  # 0.2 %: the old 0.5 % floor refused this model
    known = version.validation["known_anomalies"]
    assert known["passed"] and known["judged"]
    assert known["anomaly_flag_rate"] == 1.0 and known["normal_flag_rate"] == 0.0
    model_set_role(version=version, role="production", actor="alice", reason="first")
    version.refresh_from_db()
    assert version.role == ModelRole.PRODUCTION


@pytest.mark.django_db
def test_a_model_that_flags_too_many_healthy_windows_is_refused(quiet_history):
    with pytest.raises(TrainingFailed, match=r"above the 20\.0% limit .* flags too many"):
        model_train(
            kind="statistical_baseline", actor="alice", now=END, params={"z_at_threshold": 0.5}
        )


@pytest.mark.django_db
def test_a_model_that_misses_the_known_anomalies_is_refused(quiet_history):
    # The set's anomaly windows carry no signature this model can see.
    regression_set_from_history(visible=False)
    version = model_train(kind="statistical_baseline", actor="alice", now=END, params=QUIET)

    assert not version.validation["known_anomalies"]["passed"]
    with pytest.raises(RegistryError, match=r"cannot be promoted: known anomalies: flags 0% of 12"):
        model_set_role(version=version, role="production", actor="alice", reason="first")
