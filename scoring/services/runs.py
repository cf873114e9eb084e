"""Batch scoring runs: a ledger row per run, one shard per model version and device range.

Completion is tracked in the ledger, not in Celery: each shard records its own outcome and
the last one to finish closes the run. A shard whose worker died is found by the sweeper
(its heartbeat stops) and dispatched again within FLEETMON_SHARD_STALE_SECONDS, instead of
waiting for the broker's visibility timeout (an hour by default). Writing a shard replaces
its rows, so a shard that runs twice leaves the same rows.
"""

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import lru_cache

import pandas as pd
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from fleetmon.registry.models import Device
from fleetmon.registry.profiles import profiles_for_devices
from scoring.artifacts import artifact_load
from scoring.detectors.base import Detector
from scoring.detectors.registry import detector_for
from scoring.detectors.rules import LIMIT_COLUMNS, limits_from_ranges
from scoring.model_input import impute
from scoring.models import ModelRole, ModelVersion, RunStatus, ScoringRun, ScoringShard
from scoring.selectors import active_device_ids, feature_history, scoring_features
from scoring.services.training import rules_fallback_ensure
from scoring.signals import run_finished

logger = logging.getLogger(__name__)

# Candidates score in the same run as production; shadow scores are stored, never alert.
SCORING_ROLES = (ModelRole.PRODUCTION, ModelRole.CANARY, ModelRole.SHADOW)
HOURLY_KINDS = ("isolation_forest", "statistical_baseline", "rules_fallback")
DONE = (RunStatus.SUCCEEDED, RunStatus.FAILED)
SCORE_COLUMNS = (
    "score_id",
    "device_id",
    "window_start",
    "window_end",
    "model_id",
    "model_version",
    "granularity",
    "deployment_role",
    "anomaly_score",
    "anomaly_flag",
    "threshold_used",
    "top_contributors",
    "contributor_scores",
    "scored_at",
    "sensor_completeness",
    "run_id",
)
SCORE_TYPES = (
    "uuid",
    "text",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "float8",
    "bool",
    "float8",
    "text[]",
    "float8[]",
    "timestamptz",
    "float8",
    "int8",
)
SCORE_NAMESPACE = uuid.UUID("0c8f5e2a-3b1d-4e7f-9a6c-5d4b3a2f1e0d")


class NothingToScore(ValueError):
    """No model version, or no device, for the run that was asked for."""


def run_create(
    *,
    trigger: str,
    window_end: datetime,
    requested_by: str,
    kinds: tuple[str, ...] | None = None,
    device_id: str = "",
    window_minutes: int = 15,
) -> ScoringRun:
    """Record a run and its shards: every scoring version of `kinds` x device ranges."""
    rules_fallback_ensure()
    versions = list(
        ModelVersion.objects.filter(role__in=SCORING_ROLES, window_minutes=window_minutes)
        .exclude(artifact_path="")
        .order_by("kind", "model_id")
    )
    if kinds is not None:
        versions = [v for v in versions if v.kind in kinds]
    if not versions:
        raise NothingToScore(f"no model version to score with (kinds: {kinds or 'all'})")
    ranges = _device_ranges(device_id)
    if not ranges:
        raise NothingToScore("no active device to score")
    with transaction.atomic():
        run = ScoringRun.objects.create(
            trigger=trigger,
            window_minutes=window_minutes,
            window_end=window_end,
            device_id=device_id,
            requested_by=requested_by,
            status=RunStatus.RUNNING,
            started_at=timezone.now(),
        )
        ScoringShard.objects.bulk_create(
            ScoringShard(
                run=run,
                model_version=version,
                deployment_role=version.role,
                device_from=low,
                device_to=high,
            )
            for version in versions
            for low, high in ranges
        )
    return run


def _device_ranges(device_id: str) -> list[tuple[str, str]]:
    if device_id:
        return [(device_id, device_id)]
    ids = active_device_ids()
    size = settings.FLEETMON_SCORING_SHARD_SIZE
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def run_shard_ids(run: ScoringRun) -> list[int]:
    return list(run.shards.values_list("pk", flat=True))


# ---------------------------------------------------------------- one shard


def shard_claim(*, shard_id: int) -> bool:
    """Take a pending shard and count the attempt; False when another worker has it or it
    is done.

    One UPDATE: a worker killed right after the claim has still counted its attempt.
    """
    now = timezone.now()
    return bool(
        ScoringShard.objects.filter(pk=shard_id, status=RunStatus.PENDING).update(
            status=RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            error="",
            attempts=F("attempts") + 1,
        )
    )


def shard_score(*, shard_id: int) -> None:
    """Score one shard and record the outcome; never raises for a model or data failure.

    A failing model marks only its own shard failed: the other models' shards go on. While
    it scores, a thread beats the shard's heartbeat, so the sweeper can tell a slow shard
    from a dead worker's within FLEETMON_SHARD_STALE_SECONDS.
    """
    if not shard_claim(shard_id=shard_id):
        logger.info("shard %s is taken or done; nothing to do", shard_id)
        return
    shard = ScoringShard.objects.select_related("run", "model_version").get(pk=shard_id)
    try:
        with _heartbeat_while_running(shard_id):
            scored, skipped, written = _score_and_write(shard)
    except Exception as exc:  # noqa: BLE001 - any failure of one model is recorded, not spread
        logger.exception("shard %s (%s) failed", shard_id, shard.model_version.model_id)
        ScoringShard.objects.filter(pk=shard_id).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
        )
    else:
        logger.info(
            "shard %s %s: scored %d skipped %d wrote %d",
            shard_id,
            shard.model_version.model_id,
            scored,
            skipped,
            written,
        )
    run_finish_if_done(run_id=shard.run_id)


def _heartbeat(shard: ScoringShard) -> None:
    ScoringShard.objects.filter(pk=shard.pk).update(heartbeat_at=timezone.now())


@contextmanager
def _heartbeat_while_running(shard_id: int) -> Iterator[None]:
    """Beat the shard's heartbeat every FLEETMON_SHARD_HEARTBEAT_SECONDS in a thread."""
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(settings.FLEETMON_SHARD_HEARTBEAT_SECONDS):
                try:
                    _beat(shard_id)
                except DatabaseError:
                    # A missed beat is no failure; the next one gets a fresh connection.
                    logger.warning("shard %s: heartbeat failed", shard_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection, back to the pool

    thread = threading.Thread(target=beat, name=f"shard-{shard_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _beat(shard_id: int) -> None:
    # SKIP LOCKED: a caller holding the shard's row in a transaction (a test, an eager task)
    # would otherwise block this thread, and the caller then waits for it at the join.
    with transaction.atomic():
        beating = list(
            ScoringShard.objects.select_for_update(skip_locked=True)
            .filter(pk=shard_id, status=RunStatus.RUNNING)
            .values_list("pk", flat=True)
        )
        ScoringShard.objects.filter(pk__in=beating).update(heartbeat_at=timezone.now())


def _score_and_write(shard: ScoringShard) -> tuple[int, int, int]:
    version, run = shard.model_version, shard.run
    detector = load_detector(version.model_id, version.artifact_sha256)
    latest = scoring_features(
        minutes=run.window_minutes,
        window_end=run.window_end,
        device_from=shard.device_from,
        device_to=shard.device_to,
    )
    _heartbeat(shard)
    expected = _active_in_range(shard)
    eligible = latest[
        (latest["dropout_state"] != "FULL_DROPOUT")
        & (latest["completeness"] >= settings.FLEETMON_MIN_SCORING_COMPLETENESS)
    ]
    if detector.allows_missing:
        ready = eligible
    else:
        ready = _impute_latest(eligible, version, run)
    if version.kind == "rules_fallback":
        ready = _with_profile_limits(ready)
    result = detector.score(ready) if len(ready) else None
    _heartbeat(shard)
    written = _write_scores(shard, ready, result)
    scored = len(ready)
    with transaction.atomic():
        ScoringShard.objects.filter(pk=shard.pk).update(
            status=RunStatus.SUCCEEDED,
            finished_at=timezone.now(),
            devices_scored=scored,
            devices_skipped=expected - scored,
            rows_written=written,
        )
    return scored, expected - scored, written


def _impute_latest(eligible, version: ModelVersion, run: ScoringRun):
    """C4 model input: forward-fill from the device's earlier windows, then the training
    cohort medians; rows that stay incomplete are left out. Only devices with a gap need
    their history read."""
    features = list(version.feature_names)
    gaps = eligible["device_id"][eligible[features].isna().any(axis=1)].tolist()
    frame = eligible
    if gaps:
        history = feature_history(
            minutes=run.window_minutes,
            window_end=run.window_end,
            history=settings.FLEETMON_IMPUTATION_HISTORY_WINDOWS,
            device_ids=gaps,
        )
        frame = pd.concat([history, eligible], ignore_index=True)
    filled, _ = impute(frame, features, cohort_medians=version.cohort_medians)
    return filled[filled["window_end"] == run.window_end]


def _with_profile_limits(frame: pd.DataFrame) -> pd.DataFrame:
    """Give each window the rules fallback's limits from its device's equipment profile.

    A medium-temperature case runs its coil near 0 °C; §4.5's fleet-wide 0 °C limit would
    flag it in every window. Devices without a profile keep the §4.5 limits (NaN).
    """
    if frame.empty:
        return frame
    profiles = profiles_for_devices(device_ids=frame["device_id"].tolist())
    limits = {d: limits_from_ranges(p.normal_ranges) for d, p in profiles.items() if p}
    nan = float("nan")
    return frame.assign(
        **{
            column: [limits.get(d, {}).get(param, nan) for d in frame["device_id"]]
            for param, column in LIMIT_COLUMNS.items()
        }
    )


def _active_in_range(shard: ScoringShard) -> int:
    return Device.objects.filter(
        is_active=True, device_id__gte=shard.device_from, device_id__lte=shard.device_to
    ).count()


@lru_cache(maxsize=16)
def load_detector(model_id: str, sha256: str) -> Detector:
    """Load a fitted detector once per worker process (keyed by its checksum)."""
    version = ModelVersion.objects.get(model_id=model_id)
    payload = artifact_load(path=version.artifact_path, sha256=sha256)
    return detector_for(version.kind).from_bytes(payload)


def _write_scores(shard: ScoringShard, ready, result) -> int:
    """Replace the shard's scores with COPY, in one transaction (idempotent)."""
    version, run = shard.model_version, shard.run
    rows: list = []
    if result is not None:
        n = len(result)
        key = f"{version.model_id}|{{}}|{run.window_end.isoformat()}"
        columns = [
            [uuid.uuid5(SCORE_NAMESPACE, key.format(device)) for device in result.device_id],
            result.device_id.tolist(),
            ready["window_start"].tolist(),
            [run.window_end] * n,
            [version.model_id] * n,
            [version.version] * n,
            [version.granularity] * n,
            [shard.deployment_role] * n,
            result.anomaly_score.tolist(),
            result.anomaly_flag.tolist(),
            [result.threshold] * n,
            result.top_contributors,
            [[float(v) for v in scores] for scores in result.contributor_scores],
            [timezone.now()] * n,
            ready["completeness"].astype(float).tolist(),
            [run.pk] * n,
        ]
        rows = list(zip(*columns, strict=True))
    with transaction.atomic():
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                "DELETE FROM model_scores WHERE model_id = %s AND window_end = %s"
                " AND device_id BETWEEN %s AND %s",
                [version.model_id, run.window_end, shard.device_from, shard.device_to],
            )
            if rows:
                with cursor.copy(
                    f"COPY model_scores ({', '.join(SCORE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(list(SCORE_TYPES))
                    for row in rows:
                        copy.write_row(row)
    return len(rows)


# ---------------------------------------------------------------- closing runs


def run_finish_if_done(*, run_id: int) -> bool:
    """Close the run when none of its shards is pending or running; exactly one caller wins."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().get(pk=run_id)
        if run.finished_at is not None:
            return False
        shards = list(run.shards.select_related("model_version"))
        if any(s.status not in DONE for s in shards):
            return False
        production = [s for s in shards if s.deployment_role == ModelRole.PRODUCTION]
        failed = {s.model_version.model_id for s in shards if s.status == RunStatus.FAILED}
        if not failed:
            run.status = RunStatus.SUCCEEDED
        elif all(s.status == RunStatus.FAILED for s in production):
            run.status = RunStatus.FAILED
        else:
            run.status = RunStatus.PARTIAL
        scored_by_production = [s for s in production if s.model_version.kind != "rules_fallback"]
        run.devices_scored = max(
            (
                sum(s.devices_scored for s in shards if s.model_version_id == v)
                for v in {s.model_version_id for s in scored_by_production}
            ),
            default=0,
        )
        run.devices_skipped = max(
            (
                sum(s.devices_skipped for s in shards if s.model_version_id == v)
                for v in {s.model_version_id for s in scored_by_production}
            ),
            default=0,
        )
        run.rows_written = sum(s.rows_written for s in shards)
        run.error = "; ".join(
            f"{s.model_version.model_id} {s.device_from}..{s.device_to}: {s.error}"
            for s in shards
            if s.status == RunStatus.FAILED
        )[:4000]
        run.finished_at = timezone.now()
        run.save()
        transaction.on_commit(lambda: _after_run(run.pk))
    logger.info("run %s finished: %s", run_id, run.status)
    return True


def _after_run(run_id: int) -> None:
    """Compare candidates with production, then tell the apps that build on scoring."""
    from scoring.services.validation import canary_evaluate

    canary_evaluate(run=ScoringRun.objects.get(pk=run_id))
    run_finished.send(sender=ScoringRun, run_id=run_id)


def runs_sweep(
    *, now: datetime, stale_after: timedelta, pending_after: timedelta | None = None
) -> list[int]:
    """Put back shards that stopped reporting (dead worker) and close runs left open.

    A running shard whose heartbeat is older than `stale_after` lost its worker. A pending
    shard is sent again only when its last sending is older than `pending_after`
    (FLEETMON_SHARD_PENDING_RESEND_SECONDS): its task may simply wait in a long queue, and
    re-sending it every sweep would fill the queue with copies. For a pending shard
    heartbeat_at holds the time it was last put back and sent (NULL: sent with its run).

    The rows are locked while they are put back, so a heartbeat landing meanwhile cannot
    slip between the choice and the update. Returns the ids of the shards to dispatch again.
    """
    if pending_after is None:
        pending_after = timedelta(seconds=settings.FLEETMON_SHARD_PENDING_RESEND_SECONDS)
    cutoff = now - stale_after
    pending_cutoff = now - max(pending_after, stale_after)
    with transaction.atomic():
        stale = ScoringShard.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            Q(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
            | Q(status=RunStatus.PENDING, heartbeat_at__lt=pending_cutoff)
            | Q(
                status=RunStatus.PENDING,
                heartbeat_at__isnull=True,
                run__started_at__lt=pending_cutoff,
            ),
            run__finished_at__isnull=True,
        )
        ids = list(stale.values_list("pk", flat=True))
        if ids:
            ScoringShard.objects.filter(pk__in=ids).update(
                status=RunStatus.PENDING, heartbeat_at=timezone.now()
            )
    if ids:
        logger.warning("re-dispatching %d stale shards: %s", len(ids), ids)
    for run_id in ScoringRun.objects.filter(finished_at__isnull=True).values_list("pk", flat=True):
        run_finish_if_done(run_id=run_id)
    return ids


def run_progress(run: ScoringRun) -> dict:
    shards = list(run.shards.values_list("status", flat=True))
    done = sum(1 for s in shards if s in DONE)
    return {"shards": len(shards), "done": done, "fraction": done / len(shards) if shards else 1.0}


def run_mark_alerted(*, run_id: int, alerts_created: int) -> None:
    """Record that score-to-alert has processed this run."""
    ScoringRun.objects.filter(pk=run_id).update(
        alerts_created=alerts_created, alerted_at=timezone.now()
    )
