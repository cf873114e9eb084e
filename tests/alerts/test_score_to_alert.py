"""Score-to-alert: severity (D3), alert types (D5), dedup and suppression (D6), pre-hydration."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import DeviceAlert
from alerts.services import alerts_from_run
from alerts.severity import SLA, Cutoffs, batch_severity
from fleetmon.registry.models import Device
from scoring.models import DeviceFeatures, ModelScore, ModelVersion, ScoringRun
from tests.conftest import register_devices
from tests.scoring.conftest import END

CUT = Cutoffs()


@pytest.mark.parametrize(
    ("score", "models", "previous", "severity"),
    [
        (0.951, 1, None, "CRITICAL"),
        (0.95, 1, None, "MEDIUM"),  # not > 0.95, one model, no history
        (0.95, 2, None, "HIGH"),
        (0.86, 2, None, "HIGH"),
        (0.86, 1, 0.86, "HIGH"),  # sustained: the previous window was above 0.85 too
        (0.86, 1, 0.85, "MEDIUM"),
        (0.85, 2, None, "MEDIUM"),  # HIGH needs > 0.85
        (0.71, 1, None, "MEDIUM"),
        (0.70, 1, None, "LOW"),
        (0.65, 2, None, "MEDIUM"),  # two models agreeing
        (0.65, 1, 0.99, "LOW"),
    ],
)
def test_batch_severity_rules(score, models, previous, severity):
    assert (
        batch_severity(
            max_score=score, models_flagging=models, previous_max_score=previous, cutoffs=CUT
        )
        == severity
    )


def test_cut_offs_can_be_overridden_per_cohort(settings):
    from alerts.services import cutoffs_for

    settings.FLEETMON_SEVERITY_CUTOFFS = {
        "default": {"high": 0.9},
        "WF-5HP/hot-humid": {"critical": 0.97},
    }
    assert cutoffs_for("WF-5HP/hot-humid") == Cutoffs(critical=0.97, high=0.9)
    assert cutoffs_for("DC-2HP/cold") == Cutoffs(high=0.9)


# ---------------------------------------------------------------- against the database


def model(kind: str, threshold: float = 0.7) -> ModelVersion:
    return ModelVersion.objects.create(
        model_id=f"{kind}_v1",
        kind=kind,
        version="1.1.0",
        role="production",
        feature_names=["x"],
        threshold=threshold,
        artifact_path=f"{kind}_v1.model",
        artifact_sha256="0" * 64,
        artifact_format_version=1,
    )


def run_with(scores: list[tuple], window_end=END, minutes=15) -> ScoringRun:
    """scores: (device_id, model ModelVersion, anomaly score, first contributor)."""
    run = ScoringRun.objects.create(
        trigger="hourly", window_minutes=minutes, window_end=window_end, finished_at=timezone.now()
    )
    for device_id, version, value, contributor in scores:
        ModelScore.objects.create(
            device_id=device_id,
            window_start=window_end - timedelta(minutes=minutes),
            window_end=window_end,
            model_id=version.model_id,
            model_version=version.version,
            granularity="fleet",
            deployment_role="production",
            anomaly_score=value,
            anomaly_flag=value > version.threshold,
            threshold_used=version.threshold,
            top_contributors=[contributor, "humidity_mean"],
            contributor_scores=[6.0, 1.0],
            scored_at=window_end,
            sensor_completeness=1.0,
            run_id=run.pk,
        )
    return run


@pytest.fixture
def setup(db, settings):
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 1  # the alarm delay has its own tests
    device = register_devices(1)[0].device_id
    return device, model("isolation_forest"), model("statistical_baseline")


def alerts(device):
    return list(DeviceAlert.objects.filter(device_id=device).order_by("alert_created_at", "pk"))


@pytest.mark.django_db
def test_a_critical_score_raises_a_critical_alert_with_sla_and_words(setup):
    device, forest, _ = setup
    run = run_with([(device, forest, 0.97, "vibration_compressor_max")])
    before = timezone.now()
    assert alerts_from_run(run_id=run.pk)["created"] == 1
    (alert,) = alerts(device)
    assert (alert.severity, alert.alert_type, alert.status, alert.source) == (
        "CRITICAL",
        "ANOMALY_DETECTED",
        "open",
        "batch",
    )
    assert alert.title == f"Compressor vibration anomaly detected on device {device}"
    assert (
        "vibration_compressor_max" in alert.description
        and "isolation_forest_v1" in alert.description
    )
    assert alert.sla_deadline - alert.alert_created_at == SLA["CRITICAL"]
    assert alert.alert_created_at >= before and alert.first_detected_at == END
    assert (alert.escalation_level, alert.sla_breached, alert.suppressed) == ("L1", False, False)
    assert alert.site_id == Device.objects.get(pk=device).site_id
    assert alert.events.get().kind == "created"


@pytest.mark.django_db
def test_two_models_agreeing_make_it_high(setup):
    device, forest, stats = setup
    run = run_with([(device, forest, 0.9, "pressure_low_mean"), (device, stats, 0.75, "x_mean")])
    alerts_from_run(run_id=run.pk)
    (alert,) = alerts(device)
    assert (alert.severity, alert.model_id, alert.models_flagging) == (
        "HIGH",
        "isolation_forest_v1",
        ["isolation_forest_v1", "statistical_baseline_v1"],
    )


@pytest.mark.django_db
def test_unflagged_scores_raise_nothing(setup):
    device, forest, _ = setup
    run = run_with([(device, forest, 0.69, "humidity_mean")])
    assert alerts_from_run(run_id=run.pk)["created"] == 0
    assert Device.objects.get(pk=device).latest_anomaly_score == pytest.approx(0.69)


@pytest.mark.django_db
def test_same_key_within_four_hours_is_suppressed_and_sustains_the_first(setup):
    device, forest, _ = setup
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "temp_evaporator_mean")]).pk)
    later = END + timedelta(minutes=15)
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "temp_evaporator_mean")], later).pk)
    first, second = alerts(device)
    assert (first.suppressed, first.alert_type, first.last_seen_at) == (
        False,
        "ANOMALY_SUSTAINED",
        later,
    )
    assert (second.suppressed, second.suppressed_by_id) == (True, first.pk)


@pytest.mark.django_db
def test_after_four_hours_a_new_alert_is_raised(setup):
    device, forest, _ = setup
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "temp_evaporator_mean")]).pk)
    later = END + timedelta(hours=4, minutes=15)
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "temp_evaporator_mean")], later).pk)
    assert [a.suppressed for a in alerts(device)] == [False, False]


@pytest.mark.django_db
def test_a_different_first_contributor_is_a_different_alert(setup):
    device, forest, _ = setup
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "temp_evaporator_mean")]).pk)
    later = END + timedelta(minutes=15)
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "vibration_compressor_max")], later).pk)
    assert [a.suppressed for a in alerts(device)] == [False, False]


@pytest.mark.django_db
def test_a_higher_severity_escalates_the_active_alert(setup):
    device, forest, _ = setup
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "pressure_low_mean")]).pk)
    later = END + timedelta(minutes=15)
    alerts_from_run(run_id=run_with([(device, forest, 0.97, "pressure_low_mean")], later).pk)
    first, second = alerts(device)
    assert (first.severity, first.alert_type) == ("CRITICAL", "ANOMALY_ESCALATED")
    assert first.sla_deadline <= timezone.now() + SLA["CRITICAL"]
    assert second.suppressed
    assert first.events.filter(kind="escalated", note="MEDIUM -> CRITICAL").exists()


@pytest.mark.django_db
def test_a_low_next_score_resolves_the_alert_as_transient(setup):
    device, forest, _ = setup
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "pressure_low_mean")]).pk)
    later = END + timedelta(minutes=15)
    result = alerts_from_run(
        run_id=run_with([(device, forest, 0.55, "pressure_low_mean")], later).pk
    )
    (alert,) = alerts(device)
    assert result["resolved"] == 1
    assert (alert.alert_type, alert.status) == ("ANOMALY_RESOLVED", "resolved")
    assert alert.resolved_at is not None
    assert "transient" in alert.events.get(kind="resolved").note


@pytest.mark.django_db
def test_a_middling_next_score_leaves_the_alert(setup):
    device, forest, _ = setup
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "pressure_low_mean")]).pk)
    later = END + timedelta(minutes=15)
    alerts_from_run(run_id=run_with([(device, forest, 0.65, "pressure_low_mean")], later).pk)
    (alert,) = alerts(device)
    assert (alert.alert_type, alert.status) == ("ANOMALY_DETECTED", "open")


@pytest.mark.django_db
def test_a_streaming_critical_is_sustained_by_a_high_batch_score(setup):
    device, forest, _ = setup
    d = Device.objects.get(pk=device)
    streaming = DeviceAlert.objects.create(
        device=d,
        site_id=d.site_id,
        region=d.region,
        alert_type="ANOMALY_DETECTED",
        severity="CRITICAL",
        source="streaming",
        title="Compressor overload",
        description="current 45 A",
        model_id="compressor_overload",
        dedup_key=f"{device}|compressor_overload|current_compressor",
        first_detected_at=END - timedelta(minutes=10),
        alert_created_at=END - timedelta(minutes=10),
        last_seen_at=END - timedelta(minutes=10),
        sla_deadline=END + timedelta(minutes=20),
        recheck_until=timezone.now() + timedelta(hours=24),
    )
    alerts_from_run(run_id=run_with([(device, forest, 0.9, "current_compressor_max")]).pk)
    streaming.refresh_from_db()
    assert streaming.alert_type == "ANOMALY_SUSTAINED"


@pytest.mark.django_db
def test_rerunning_the_alert_step_raises_nothing_twice(setup):
    device, forest, _ = setup
    run = run_with([(device, forest, 0.97, "vibration_compressor_max")])
    alerts_from_run(run_id=run.pk)
    again = alerts_from_run(run_id=run.pk)
    assert again["created"] == 0 and len(alerts(device)) == 1


@pytest.mark.django_db
def test_devices_are_pre_hydrated_with_score_trend_and_health(setup):
    device, forest, _ = setup
    for hours, value in enumerate([0.1, 0.3, 0.5, 0.9]):
        run = run_with([(device, forest, value, "pressure_low_mean")], END + timedelta(hours=hours))
        alerts_from_run(run_id=run.pk)
    d = Device.objects.get(pk=device)
    assert d.latest_anomaly_score == pytest.approx(0.9)
    assert d.anomaly_trend == "increasing"
    assert (d.worst_open_severity, d.health_status) == ("MEDIUM", "critical")  # score > 0.85


@pytest.mark.django_db
def test_a_lone_models_flag_waits_for_the_next_window(setup, settings):
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 2
    device, forest, _ = setup
    assert (
        alerts_from_run(run_id=run_with([(device, forest, 0.8, "humidity_mean")]).pk)["created"]
        == 0
    )
    later = END + timedelta(hours=1)
    alerts_from_run(run_id=run_with([(device, forest, 0.8, "humidity_mean")], later).pk)
    (alert,) = alerts(device)
    assert (alert.severity, alert.window_end) == ("MEDIUM", later)


@pytest.mark.django_db
def test_one_window_never_alerts_however_high_or_agreed(setup, settings):
    """A single wild reading moves one 15-minute window, even to a critical score that
    several models agree on; only the next scored window's flag makes it an alert."""
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 2
    device, forest, stats = setup
    other = register_devices(1, site_no=2)[0].device_id
    flags = [
        (device, forest, 0.97, "vibration_compressor_max"),
        (other, forest, 0.8, "pressure_low_mean"),
        (other, stats, 0.75, "pressure_low_mean"),
    ]
    assert alerts_from_run(run_id=run_with(flags).pk)["created"] == 0
    # The glitch is gone an hour later: the window scores normal, still nothing.
    later = END + timedelta(hours=1)
    normal = [(d, m, 0.1, c) for d, m, _, c in flags]
    assert alerts_from_run(run_id=run_with(normal, later).pk)["created"] == 0
    # A flag that persists into the next scored window alerts, at its severity.
    latest = later + timedelta(hours=1)
    alerts_from_run(run_id=run_with(flags, latest).pk)
    assert alerts_from_run(run_id=run_with(flags, latest + timedelta(hours=1)).pk)["created"] == 2
    assert {(a.device_id, a.severity) for a in alerts(device) + alerts(other)} == {
        (device, "CRITICAL"),
        (other, "MEDIUM"),
    }


@pytest.mark.django_db
def test_a_defrost_window_confirms_no_flag_an_hour_later(setup, settings):
    """The forest flags a defrost window, which D10 leaves alone; a glitch in the next
    scored window is still one window, not a persisting flag."""
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 2
    device, forest, stats = setup
    DeviceFeatures.objects.create(
        device_id=device,
        window_start=END - timedelta(minutes=15),
        window_end=END,
        window_duration_minutes=15,
        reading_count=15,
        sensor_completeness=1.0,
        quality_flag_count=0,
        defrost_active_fraction=0.6,
    )
    assert (
        alerts_from_run(run_id=run_with([(device, forest, 0.9, "defrost_active_fraction")]).pk)[
            "created"
        ]
        == 0
    )
    glitch = [(device, stats, 0.97, "vibration_compressor_mean")]
    later = END + timedelta(hours=1)
    assert alerts_from_run(run_id=run_with(glitch, later).pk)["created"] == 0
    # A flag that persists past the defrost alerts as before.
    assert alerts_from_run(run_id=run_with(glitch, later + timedelta(hours=1)).pk)["created"] == 1


@pytest.mark.django_db
def test_on_trailing_days_agreement_or_a_critical_score_alerts_at_once(setup, settings):
    settings.FLEETMON_ALERT_CONFIRM_WINDOWS = 2
    device, forest, stats = setup
    other = register_devices(1, site_no=2)[0].device_id
    run = run_with(
        [
            (device, forest, 0.97, "vibration_compressor_max"),
            (other, forest, 0.8, "pressure_low_mean"),
            (other, stats, 0.75, "pressure_low_mean"),
        ],
        minutes=1440,
    )
    assert alerts_from_run(run_id=run.pk)["created"] == 2
