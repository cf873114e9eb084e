"""drift_compute on the real database: crafted device_features rows in two cohorts."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from fleetmon.registry.models import Cohort, Device, Site
from monitoring.models import DriftCheck, FeatureDriftMetric
from monitoring.services.drift import NothingToCompare, drift_compute
from monitoring.tasks import drift_task
from scoring.features import AGGREGATES, DERIVED
from scoring.models import DeviceFeatures

pytestmark = pytest.mark.django_db

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
W1, W2, W3 = T - 2 * HOUR, T - HOUR, T  # three consecutive 60-minute window ends
FLOATS = [a.name for a in AGGREGATES] + list(DERIVED)  # the 42 float columns
PER_COHORT = 30
BASELINE_DAYS = 10  # of the 30 the job looks back; fewer rows, same query


@pytest.fixture
def fleet(db):
    site = Site.objects.create(
        site_id="SITE-US-PHX-0001", site_name="Phoenix 1", region="US-W", climate_zone="hot-dry"
    )
    devices = {}
    for model, zone in (("WF-5HP", "hot-dry"), ("DC-2HP", "cold")):
        cohort = Cohort.objects.create(
            cohort_id=f"{model}/{zone}", equipment_model=model, climate_zone=zone
        )
        devices[cohort.cohort_id] = [
            Device.objects.create(
                device_id=f"REF-US-W-{model[:2]}{i:04d}",
                site=site,
                cohort=cohort,
                region="US-W",
                equipment_model=model,
                install_date=date(2022, 1, 1),
                firmware_version="4.2.0",
            ).device_id
            for i in range(PER_COHORT)
        ]
    return devices


def write_windows(devices, window_end, rng, *, shift_all=0.0, ambient_shift=None):
    """One 60-minute feature row per device ending at `window_end`; feature i ~ N(10 i, 1)."""
    rows = []
    for cohort_id, ids in devices.items():
        for device_id in ids:
            values = {name: 10.0 * i + rng.normal() + shift_all for i, name in enumerate(FLOATS)}
            values["temp_ambient_mean"] += (ambient_shift or {}).get(cohort_id, 0.0)
            rows.append(
                DeviceFeatures(
                    device_id=device_id,
                    window_start=window_end - HOUR,
                    window_end=window_end,
                    window_duration_minutes=60,
                    reading_count=60,
                    sensor_completeness=1.0,
                    quality_flag_count=0,
                    **values,
                )
            )
    DeviceFeatures.objects.bulk_create(rows)


HOT = "WF-5HP/hot-dry"
COLD = "DC-2HP/cold"


def write_history(devices, ends, rng, **current_kwargs):
    """Baseline rows for the same hour on earlier days, then the current windows."""
    for end in ends:
        for day in range(1, BASELINE_DAYS + 1):
            write_windows(devices, end - timedelta(days=day), rng)
        write_windows(devices, end, rng, **current_kwargs)


def metric(end, feature, cohort_id=""):
    return FeatureDriftMetric.objects.get(
        window_minutes=60, window_end=end, feature_name=feature, cohort_id=cohort_id
    )


def test_one_window_stores_fleet_and_cohort_metrics(fleet):
    rng = np.random.default_rng(1)
    write_history(fleet, [W3], rng, ambient_shift={HOT: 5.0})
    DeviceFeatures.objects.filter(window_end=W3, device_id__in=fleet[COLD][:4]).update(
        humidity_mean=None
    )

    run = drift_compute(window_end=W3, minutes=60)

    assert run.metrics == FeatureDriftMetric.objects.count() == 45 * 3
    assert (run.current_rows, run.baseline_rows) == (60, 60 * BASELINE_DAYS)
    hot = metric(W3, "temp_ambient_mean", HOT)
    assert (hot.window_start, hot.scope, hot.n_current, hot.n_baseline) == (
        W3 - HOUR,
        "cohort",
        30,
        300,
    )
    assert hot.ks_statistic > 0.9 and hot.ks_p_value < 1e-10 and hot.ks_exceeded
    assert hot.drift_severity == "significant"
    assert not hot.drifting  # one breaching window is not drift yet
    cold = metric(W3, "temp_ambient_mean", COLD)
    assert not cold.ks_exceeded and cold.ks_statistic < 0.4
    humidity = metric(W3, "humidity_mean", COLD)
    assert (humidity.n_current, humidity.null_current) == (26, 4)
    assert metric(W3, "humidity_mean").null_current == 4
    # reading_count is 60 everywhere: nothing moves, PSI 0.
    assert metric(W3, "reading_count").psi_value == 0.0
    checks = {c.cohort_id: c for c in DriftCheck.objects.filter(window_end=W3)}
    assert set(checks) == {"", HOT, COLD}
    assert checks[""].scope == "fleet" and checks[""].features_total == 45
    assert (checks[""].current_rows, checks[""].baseline_rows) == (60, 600)
    assert (checks[HOT].current_rows, checks[HOT].baseline_rows) == (30, 300)
    assert checks[HOT].features_exceeded >= 1 and checks[HOT].features_drifting == 0
    assert not any(c.pipeline_suspect for c in checks.values())


def test_a_feature_drifts_on_the_third_consecutive_breaching_window(fleet):
    rng = np.random.default_rng(2)
    write_history(fleet, [W1, W2, W3], rng, ambient_shift={HOT: 5.0})

    drift_compute(window_end=W1, minutes=60)
    drift_compute(window_end=W2, minutes=60)
    assert metric(W2, "temp_ambient_mean", HOT).ks_exceeded
    assert not metric(W2, "temp_ambient_mean", HOT).drifting  # two windows are not enough
    run = drift_compute(window_end=W3, minutes=60)

    assert metric(W3, "temp_ambient_mean", HOT).drifting
    assert metric(W3, "temp_ambient_mean").drifting  # half the fleet moved: D about 0.5
    assert not metric(W3, "temp_ambient_mean", COLD).drifting
    drifting = FeatureDriftMetric.objects.filter(window_end=W3, drifting=True)
    assert set(drifting.values_list("feature_name", flat=True)) == {"temp_ambient_mean"}
    fleet_check = DriftCheck.objects.get(window_end=W3, scope="fleet")
    assert (fleet_check.features_drifting, fleet_check.pipeline_suspect) == (1, False)
    assert fleet_check.drifting_share == pytest.approx(1 / 45)
    assert (run.fleet_drifting, run.fleet_suspect, run.suspect_cohorts) == (1, False, ())


def test_a_missing_window_breaks_the_run(fleet):
    rng = np.random.default_rng(3)
    write_history(fleet, [W1, W2, W3], rng, ambient_shift={HOT: 5.0})
    drift_compute(window_end=W1, minutes=60)
    drift_compute(window_end=W3, minutes=60)  # W2 never ran
    assert metric(W3, "temp_ambient_mean", HOT).ks_exceeded
    assert not metric(W3, "temp_ambient_mean", HOT).drifting


def test_most_features_drifting_at_once_is_a_pipeline_suspect_not_drift(fleet):
    rng = np.random.default_rng(4)
    write_history(fleet, [W1, W2, W3], rng, shift_all=100.0)  # e.g. a unit or offset bug

    for end in (W1, W2):
        assert not drift_compute(window_end=end, minutes=60).fleet_suspect
    run = drift_compute(window_end=W3, minutes=60)

    check = DriftCheck.objects.get(window_end=W3, scope="fleet")
    assert check.features_drifting == 42  # every float feature; the counts did not move
    assert check.drifting_share == pytest.approx(42 / 45) and check.pipeline_suspect
    assert run.fleet_suspect and set(run.suspect_cohorts) == {HOT, COLD}


def test_a_rerun_replaces_its_rows(fleet):
    rng = np.random.default_rng(5)
    write_history(fleet, [W3], rng)
    first = drift_compute(window_end=W3, minutes=60)
    values = list(FeatureDriftMetric.objects.order_by("pk").values_list("ks_p_value", "psi_value"))
    drift_compute(window_end=W3, minutes=60)
    assert FeatureDriftMetric.objects.count() == first.metrics == 135
    assert DriftCheck.objects.count() == 3
    assert sorted(FeatureDriftMetric.objects.values_list("ks_p_value", "psi_value")) == sorted(
        values
    )


def test_the_baseline_sample_is_capped_and_the_same_on_every_run(fleet, settings):
    settings.FLEETMON_DRIFT_BASELINE_ROWS = 150  # of 600 baseline rows
    rng = np.random.default_rng(6)
    write_history(fleet, [W3], rng)
    sizes = {drift_compute(window_end=W3, minutes=60).baseline_rows for _ in range(2)}
    assert len(sizes) == 1
    assert 100 <= sizes.pop() <= 200  # a hash keeps each row with probability 1/4
    assert metric(W3, "humidity_mean").n_baseline < 200


def test_no_current_rows_is_nothing_to_compare(fleet, caplog):
    rng = np.random.default_rng(7)
    write_windows(fleet, W3 - timedelta(days=1), rng)  # a baseline but no current window
    with pytest.raises(NothingToCompare, match="no 60-minute features end at"):
        drift_compute(window_end=W3, minutes=60)
    assert drift_task(minutes=60, window_end=W3.isoformat()) is None
    assert "no drift run for 60m" in caplog.text
    assert not FeatureDriftMetric.objects.exists()


def test_no_baseline_is_nothing_to_compare(fleet):
    write_windows(fleet, W3, np.random.default_rng(8))
    with pytest.raises(NothingToCompare, match="no baseline in the 30 days"):
        drift_compute(window_end=W3, minutes=60)


@pytest.mark.parametrize(("end", "minutes"), [(T + timedelta(minutes=15), 60), (T, 45)])
def test_the_window_must_be_a_clock_aligned_window(end, minutes):
    with pytest.raises(ValueError, match="window"):
        drift_compute(window_end=end, minutes=minutes)


def test_the_task_runs_the_window_it_is_given(fleet):
    write_history(fleet, [W3], np.random.default_rng(9), ambient_shift={HOT: 5.0})
    result = drift_task.apply(kwargs={"minutes": 60, "window_end": W3.isoformat()}).get()
    assert result["metrics"] == 135 and result["window_end"] == W3.isoformat()
    assert metric(W3, "temp_ambient_mean", HOT).ks_exceeded
