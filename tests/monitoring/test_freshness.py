"""Freshness per dataset and the escalation ladder (domain §3.4, §3.7, D7)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleetmon.registry.models import Device
from monitoring.freshness import (
    BY_NAME,
    DATASETS,
    dataset_finding,
    dataset_reading,
    dataset_severity,
    dropout_finding,
    freshness_check,
    pipeline_finding,
)
from monitoring.models import FreshnessCheck, MonitorAlert
from quality.ingest import ingest_messages
from scoring.models import DeviceFeatures, ScoringRun
from tests.conftest import message, register_devices

NOW = timezone.now().replace(second=0, microsecond=0)
SECOND = timedelta(seconds=1)
MIN = timedelta(minutes=1)


# ---------------------------------------------------------------- the ladder


@pytest.mark.parametrize(
    ("lateness", "rows", "severity"),
    [
        (10 * MIN, 5, None),  # at the SLA: fresh
        (10 * MIN + SECOND, 5, "LOW"),  # just past: 1-2x, log only
        (20 * MIN, 5, "LOW"),  # exactly 2x is still 1-2x
        (20 * MIN + SECOND, 5, "MEDIUM"),  # > 2x: Slack
        (timedelta(0), 0, "MEDIUM"),  # on time, but zero rows: not fresh
        (timedelta(0), None, None),  # no row rule for this dataset
        (None, None, "MEDIUM"),  # no data at all
    ],
)
def test_ladder_of_one_dataset(lateness, rows, severity):
    assert (
        dataset_severity(
            lateness=lateness,
            sla=10 * MIN,
            rows=rows,
            feature_store=False,
            critical_after=timedelta(hours=2),
        )
        == severity
    )


@pytest.mark.parametrize(
    ("lateness", "rows", "severity"),
    [
        (timedelta(hours=2), 5, "MEDIUM"),
        (timedelta(hours=2) + SECOND, 5, "CRITICAL"),  # feature store stale > 2 h
        (None, 0, "CRITICAL"),
        (30 * MIN, 0, "MEDIUM"),  # zero rows, on time
    ],
)
def test_feature_store_stale_over_two_hours_is_critical(lateness, rows, severity):
    assert (
        dataset_severity(
            lateness=lateness,
            sla=30 * MIN,
            rows=rows,
            feature_store=True,
            critical_after=timedelta(hours=2),
        )
        == severity
    )


def test_several_datasets_late_page():
    assert pipeline_finding(["raw_sensor_readings"], several=2) is None
    finding = pipeline_finding(["raw_sensor_readings", "clean_sensor_readings"], several=2)
    assert finding.severity == "HIGH"
    assert finding.evidence == {"late": ["raw_sensor_readings", "clean_sensor_readings"]}


@pytest.mark.parametrize(
    ("devices", "severity"), [(100, None), (101, "MEDIUM"), (500, "MEDIUM"), (501, "HIGH")]
)
def test_devices_in_full_dropout(devices, severity):
    finding = dropout_finding(devices, slack=100, page=500)
    assert (finding.severity if finding else None) == severity


# ---------------------------------------------------------------- read from the tables


def severity_of(name: str, *, now=NOW) -> str | None:
    finding = dataset_finding(
        BY_NAME[name], dataset_reading(BY_NAME[name], now=now), critical_after=timedelta(hours=2)
    )
    return finding.severity if finding else None


@pytest.mark.django_db
@pytest.mark.storage
@pytest.mark.parametrize(("received", "severity"), [(2 * MIN, None), (2 * MIN + SECOND, "LOW")])
def test_raw_readings_are_fresh_for_two_minutes_after_ingestion(received, severity):
    [device] = register_devices(1)
    # Readings buffered an hour by the gateway: raw freshness goes by ingestion time.
    ingest_messages(
        messages=[message(device.device_id, NOW - timedelta(hours=1))], received_at=NOW - received
    )

    assert severity_of("raw_sensor_readings") == severity
    reading = dataset_reading(BY_NAME["raw_sensor_readings"], now=NOW)
    assert (reading.latest_at, reading.rows) == (NOW - received, 1 if severity is None else 0)


@pytest.mark.django_db
@pytest.mark.storage
@pytest.mark.parametrize(("age", "severity"), [(15 * MIN, None), (15 * MIN + SECOND, "LOW")])
def test_clean_readings_are_fresh_for_fifteen_minutes(age, severity):
    [device] = register_devices(1)
    ingest_messages(messages=[message(device.device_id, NOW - age)], received_at=NOW - age)

    assert severity_of("clean_sensor_readings") == severity


def feature_window(minutes: int, end, devices: int = 1) -> None:
    for i in range(devices):
        DeviceFeatures.objects.create(
            device_id=f"REF-{i}",
            window_duration_minutes=minutes,
            window_start=end - timedelta(minutes=minutes),
            window_end=end,
            reading_count=minutes,
            sensor_completeness=1.0,
            quality_flag_count=0,
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("minutes", "late", "severity"),
    [
        (15, 30 * MIN, None),  # window closed 45 min ago, next one 30 min overdue: at the SLA
        (15, 30 * MIN + SECOND, "LOW"),
        (60, 60 * MIN + SECOND, "MEDIUM"),
        (1440, timedelta(hours=2) + SECOND, "CRITICAL"),
    ],
)
def test_feature_windows_are_due_thirty_minutes_after_the_next_window_closes(
    minutes, late, severity
):
    feature_window(minutes, NOW - timedelta(minutes=minutes) - late, devices=3)
    feature_window(minutes, NOW - timedelta(days=3))  # older windows do not matter

    assert severity_of(f"device_features_{minutes}") == severity
    assert dataset_reading(BY_NAME[f"device_features_{minutes}"], now=NOW).rows == 3


def run(*, window_end, rows=100, status="succeeded", finished=None, alerted=None) -> ScoringRun:
    finished = finished or window_end + 3 * MIN
    return ScoringRun.objects.create(
        trigger="hourly",
        window_minutes=15,
        window_end=window_end,
        status=status,
        started_at=finished - MIN,
        finished_at=finished,
        rows_written=rows,
        alerted_at=alerted,
    )


@pytest.mark.django_db
def test_a_scoring_run_that_wrote_zero_rows_is_not_fresh():
    run(window_end=NOW - 10 * MIN, rows=0)

    assert severity_of("model_scores") == "MEDIUM"
    finding = dataset_finding(
        BY_NAME["model_scores"],
        dataset_reading(BY_NAME["model_scores"], now=NOW),
        critical_after=timedelta(hours=2),
    )
    assert finding.title == "Model scores: zero rows"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("window_age", "severity"),
    [(2 * timedelta(hours=1), None), (2 * timedelta(hours=1) + SECOND, "LOW")],
)
def test_model_scores_are_due_an_hour_after_the_next_hourly_window(window_age, severity):
    run(window_end=NOW - window_age, rows=500)
    run(window_end=NOW - 10 * MIN, rows=500, status="failed")  # a failed run does not count

    assert severity_of("model_scores") == severity


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("finished_ago", "alerted_after", "severity"),
    [
        (5 * MIN, None, None),  # not alerted yet, 5 min after scoring: at the SLA
        (5 * MIN + SECOND, None, "LOW"),
        (2 * timedelta(hours=1), 30 * SECOND, None),  # alerted 30 s after scoring
        (2 * timedelta(hours=1), 11 * MIN, "MEDIUM"),
    ],
)
def test_batch_alerts_are_due_five_minutes_after_scoring(finished_ago, alerted_after, severity):
    finished = NOW - finished_ago
    run(
        window_end=finished - 3 * MIN,
        finished=finished,
        alerted=finished + alerted_after if alerted_after else None,
    )

    assert severity_of("device_alerts") == severity


# ---------------------------------------------------------------- the whole check


@pytest.mark.django_db
@pytest.mark.storage
def test_an_empty_pipeline_pages_and_a_dataset_that_recovers_is_cleared():
    result = freshness_check(now=NOW)

    assert result["late"] == len(DATASETS)
    stale = {a.subject: a for a in MonitorAlert.objects.filter(monitor="dataset_stale")}
    assert set(stale) == {d.name for d in DATASETS}
    assert stale["device_features_15"].severity == "CRITICAL"
    assert stale["raw_sensor_readings"].severity == "MEDIUM"
    assert {a.runbook for a in stale.values()} == {"pipeline-stall"}
    pipeline = MonitorAlert.objects.get(monitor="pipeline_late")
    assert (pipeline.severity, pipeline.status) == ("HIGH", "open")
    assert FreshnessCheck.objects.filter(checked_at=NOW, fresh=False).count() == len(DATASETS)

    feature_window(15, NOW - 15 * MIN)
    later = NOW + MIN
    freshness_check(now=later)

    recovered = MonitorAlert.objects.get(monitor="dataset_stale", subject="device_features_15")
    assert (recovered.status, recovered.resolved_at) == ("resolved", later)
    assert FreshnessCheck.objects.get(checked_at=later, dataset="device_features_15").fresh


@pytest.mark.django_db
@pytest.mark.parametrize(("dropped", "severity"), [(2, None), (3, "MEDIUM"), (4, "HIGH")])
def test_devices_in_dropout_are_counted_from_the_registry(settings, dropped, severity):
    settings.FLEETMON_DROPOUT_SLACK_DEVICES = 2
    settings.FLEETMON_DROPOUT_PAGE_DEVICES = 3
    devices = register_devices(5)
    Device.objects.filter(pk__in=[d.pk for d in devices[:dropped]]).update(
        dropout_state="FULL_DROPOUT"
    )
    Device.objects.filter(pk=devices[-1].pk).update(dropout_state="FULL_DROPOUT", is_active=False)

    freshness_check(now=NOW)

    alert = MonitorAlert.objects.filter(monitor="fleet_dropout", status="open").first()
    assert (alert.severity if alert else None) == severity
    if alert:
        assert (alert.layer, alert.runbook) == ("data", "fleet-dropout")


@pytest.mark.django_db
@pytest.mark.storage
def test_a_stale_feature_store_pauses_scheduled_scoring_until_it_is_fresh():
    from scoring.pause import scoring_paused

    freshness_check(now=NOW)
    assert scoring_paused() == (
        "feature store stale: device_features_1440, device_features_15, device_features_60"
    )
    feature_window(15, NOW - 15 * MIN)
    freshness_check(now=NOW + MIN)
    assert "device_features_15" not in scoring_paused()  # the others still hold it
    feature_window(60, NOW - 60 * MIN)
    feature_window(1440, NOW.replace(hour=0, minute=0))
    freshness_check(now=NOW + 2 * MIN)
    assert scoring_paused() is None
