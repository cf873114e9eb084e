"""Training-serving skew checks (domain §3.5) on crafted training statistics and serving
feature windows: each of the four checks at and around its limit."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitoring.models import MonitorAlert, SkewReference, TrainingServingSkew
from monitoring.skew import skew_check
from scoring.models import DeviceFeatures, ModelVersion

pytestmark = [pytest.mark.django_db]

NOW = datetime(2026, 11, 20, 12, 7, tzinfo=UTC)
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the 15-minute window the check reads up to
SERVING_ENDS = [END - timedelta(minutes=15 * k) for k in range(4)]  # the hour before END
TRAIN_START = datetime(2026, 11, 1, tzinfo=UTC)
DEVICES = 25  # x 4 serving windows = 100 serving rows


def version(statistics, *, features=None, model_id="isolation_forest_v7", kind="isolation_forest"):
    return ModelVersion.objects.create(
        model_id=model_id,
        kind=kind,
        version="1.7.0",
        role="production",
        feature_names=features or list(statistics),
        window_minutes=15,
        threshold=0.7,
        training_statistics=statistics,
        training_window_start=TRAIN_START,
        training_window_end=TRAIN_START + timedelta(hours=2),
        training_devices=DEVICES,
        artifact_path="unused",
        artifact_sha256="0" * 64,
        artifact_format_version=1,
    )


def stats(mean, std, low, high):
    return {"mean": mean, "std": std, "min": low, "max": high, "null_rate": 0.0}


def write(ends, values):
    """One 15-minute window per device and end; `values(i)` gives row i's features."""
    rows, i = [], 0
    for end in ends:
        for d in range(DEVICES):
            rows.append(
                DeviceFeatures(
                    device_id=f"REF-US-W-{d:08d}",
                    window_start=end - timedelta(minutes=15),
                    window_end=end,
                    window_duration_minutes=15,
                    reading_count=15,
                    sensor_completeness=1.0,
                    quality_flag_count=0,
                    **values(i),
                )
            )
            i += 1
    DeviceFeatures.objects.bulk_create(rows)


def check(model_id, check_kind, feature):
    return TrainingServingSkew.objects.get(
        model_id=model_id, window_end=END, check_kind=check_kind, feature=feature
    )


def skew_alert(kind="isolation_forest"):
    return MonitorAlert.objects.filter(
        monitor="training_serving_skew", subject=kind, status="open"
    ).first()


def test_mean_shift_of_more_than_two_training_std(db):
    v = version({"temp_ambient_mean": stats(20, 2, 0, 100), "humidity_mean": stats(50, 5, 0, 100)})
    write(SERVING_ENDS, lambda i: {"temp_ambient_mean": 24.0, "humidity_mean": 60.5})

    skew_check(now=NOW)

    ambient = check(v.model_id, "mean_shift", "temp_ambient_mean")
    assert ambient.statistic == pytest.approx(2.0) and not ambient.breached  # the limit itself
    assert (ambient.training_value, ambient.serving_value, ambient.serving_rows) == (20, 24, 100)
    humidity = check(v.model_id, "mean_shift", "humidity_mean")
    assert humidity.statistic == pytest.approx(2.1) and humidity.breached
    alert = skew_alert()
    assert alert.layer == "data" and alert.runbook == "training-serving-skew"
    assert alert.severity == "MEDIUM"
    assert [(b["check"], b["feature"]) for b in alert.evidence["breaches"]] == [
        ("mean_shift", "humidity_mean")
    ]


def test_range_expansion_of_more_than_ten_percent(db):
    v = version(
        {
            "pressure_high_mean": stats(1000, 100, 800, 1200),
            "temp_condenser_mean": stats(30, 5, 20, 40),
        }
    )
    write(
        SERVING_ENDS,
        lambda i: {
            "pressure_high_mean": 1300.0 if i < 10 else 1000.0,  # 10 of 100 outside
            "temp_condenser_mean": 45.0 if i < 11 else 30.0,  # 11 of 100 outside
        },
    )

    skew_check(now=NOW)

    pressure = check(v.model_id, "range_expansion", "pressure_high_mean")
    assert pressure.statistic == pytest.approx(0.10) and not pressure.breached
    condenser = check(v.model_id, "range_expansion", "temp_condenser_mean")
    assert condenser.statistic == pytest.approx(0.11) and condenser.breached
    assert not check(v.model_id, "mean_shift", "temp_condenser_mean").breached
    assert skew_alert() is not None


PAIR = ("pressure_high_mean", "temp_condenser_mean")


def training_rows(rng, *, humidity_nulls=0):
    """Raw feature windows in the version's training window: the pair moves together."""
    ends = [TRAIN_START + timedelta(minutes=15 * k) for k in range(1, 9)]
    x = rng.normal(size=len(ends) * DEVICES)
    write(
        ends,
        lambda i: {
            "pressure_high_mean": 1000 + 10 * x[i],
            "temp_condenser_mean": 30 + x[i],
            "humidity_mean": None if i < humidity_nulls else 50.0 + x[i],
        },
    )


def pair_version():
    return version(
        {
            "pressure_high_mean": stats(1000, 10, 900, 1100),
            "temp_condenser_mean": stats(30, 1, 20, 40),
            "humidity_mean": stats(50, 1, 40, 60),
        }
    )


@pytest.mark.parametrize(("sign", "breached"), [(1, False), (-1, True)])
def test_correlation_change_on_a_key_pair(db, sign, breached):
    rng = np.random.default_rng(3)
    training_rows(rng)
    v = pair_version()
    x = rng.normal(size=100)
    write(
        SERVING_ENDS,
        lambda i: {
            "pressure_high_mean": 1000 + 10 * x[i],
            "temp_condenser_mean": 30 + sign * x[i],
            "humidity_mean": 50.0,
        },
    )

    skew_check(now=NOW)

    row = check(v.model_id, "correlation_change", "|".join(PAIR))
    assert row.training_value == pytest.approx(1.0)
    assert row.serving_value == pytest.approx(sign * 1.0)
    assert row.breached == breached
    reference = SkewReference.objects.get(
        model_id=v.model_id, statistic="correlation", name="|".join(PAIR)
    )
    assert reference.rows == 8 * DEVICES


@pytest.mark.parametrize(("nulls", "breached"), [(5, False), (6, True)])
def test_null_rate_divergence_of_more_than_five_points(db, nulls, breached):
    rng = np.random.default_rng(4)
    training_rows(rng)  # humidity never null in training
    v = pair_version()
    write(
        SERVING_ENDS,
        lambda i: {
            "pressure_high_mean": 1000.0,
            "temp_condenser_mean": 30.0,
            "humidity_mean": None if i < nulls else 50.0,
        },
    )

    skew_check(now=NOW)

    row = check(v.model_id, "null_rate_divergence", "humidity_mean")
    assert (row.training_value, row.serving_value) == (0.0, pytest.approx(nulls / 100))
    assert row.breached == breached
    assert (skew_alert() is not None) == breached


def test_training_null_rate_comes_from_the_raw_training_windows(db):
    # The registry's statistics are taken after imputation (null rate 0); the skew check
    # measures the raw training windows instead: 20 of 200 were null.
    training_rows(np.random.default_rng(5), humidity_nulls=20)
    v = pair_version()
    write(SERVING_ENDS, lambda i: {"humidity_mean": None if i < 10 else 50.0})

    skew_check(now=NOW)

    row = check(v.model_id, "null_rate_divergence", "humidity_mean")
    assert row.training_value == pytest.approx(0.1) and not row.breached


def test_the_alert_clears_and_constant_features_are_not_judged(db):
    v = version(
        {
            "humidity_mean": stats(50, 5, 0, 100),
            "quality_flag_count": stats(0, 0, 0, 0),  # always 0 in training: no scale
        }
    )
    write(SERVING_ENDS, lambda i: {"humidity_mean": 70.0})
    DeviceFeatures.objects.update(quality_flag_count=3)
    skew_check(now=NOW)
    assert skew_alert() is not None
    assert not TrainingServingSkew.objects.filter(feature="quality_flag_count").exists()

    DeviceFeatures.objects.update(humidity_mean=50.0)
    skew_check(now=NOW + timedelta(minutes=1))  # same window: its rows are replaced

    assert skew_alert() is None
    assert TrainingServingSkew.objects.filter(model_id=v.model_id).count() == 2


def test_the_rules_fallback_and_idle_models_are_skipped(db):
    version(
        {"humidity_mean": stats(50, 5, 0, 100)}, model_id="rules_fallback_v1", kind="rules_fallback"
    )
    version({"humidity_mean": stats(50, 5, 0, 100)})  # production, but nothing served
    assert skew_check(now=NOW) == []
    assert not MonitorAlert.objects.exists()
