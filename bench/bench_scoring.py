"""The hourly scoring run end to end on real Celery workers, next to a bare script.

Set-up (not timed; its parts are printed): a fresh `<db>_scoring_bench` database, a simulated
fleet of N devices registered, 12 h of readings for a sample of devices (their 15-minute
features train the Isolation Forest, statistical baseline and cohort forest, promoted to
production; the rules fallback is ensured), then the scored hour's readings for all N devices.
Readings go straight into `clean_sensor_readings` with COPY (see `bench.scoring_data`): set-up
bypasses the ingest contract.

Framework (timed): what beat's hourly job (`scheduled_scoring_task`) does, with all four
models: `features_compute` of the hour's 15-minute windows (the 60- and 1440-minute windows
are the separate refresh job's), then `dispatch_run(trigger="hourly")`; the shards and
the score-to-alert step (alerts + pre-hydration) run on `celery worker --pool prefork`
processes started here. Timed from the first feature query to the run's `alerted_at`.

Bare (timed, same database and data): one psycopg connection, the same feature SQL
(`features_select_sql`) fetched into pandas, the same fitted forests unpickled from the
artifacts and scored with plain `IsolationForest.score_samples`, numpy z-scores with the
fitted statistical baselines, the four fallback rules in numpy, scores COPYed into a scratch
table. No alerts, no pre-hydration, no ledger.

    python -m bench.bench_scoring [--devices 100000] [--workers 2] [--profile]
    python -m bench.bench_scoring --devices 5000          # smoke run, about 1.5 minutes

At 100,000 devices set-up takes about 3 minutes and the whole bench about 7. `--profile`
adds a cProfile of the alert step and of one shard per model, run in this process.
"""

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from bench.benchdb import REPO_ROOT, setup_bench_database

KINDS = ("isolation_forest", "statistical_baseline", "cohort_isolation_forest", "rules_fallback")
TRAINED = KINDS[:3]
SEED = 42
GB = 1024**3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="celery --concurrency")
    parser.add_argument("--sample-devices", type=int, default=2000, help="devices to train on")
    parser.add_argument("--history-hours", type=int, default=12, help="training history")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for a run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, cProfile one shard per model and the alert step in this process",
    )
    args = parser.parse_args()

    # Everything Django and the workers read from the environment, before Django starts.
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5433/fleetmon"))
    name = base.path.lstrip("/") or "fleetmon"
    os.environ["DATABASE_URL"] = base._replace(path=f"/{name}_scoring").geturl()
    for key in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ[key] = args.redis_url
    artifacts = tempfile.mkdtemp(prefix="fleetmon-bench-scoring-")
    os.environ["FLEETMON_ARTIFACT_DIR"] = artifacts  # never the app's var/artifacts
    # A 12 h history: validate on the last 2 h, train on what ends 1 h before that.
    os.environ["FLEETMON_VALIDATION_HOURS"] = "2"
    os.environ["FLEETMON_TRAINING_GAP_HOURS"] = "1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    worker_log = Path(tempfile.gettempdir()) / f"bench_scoring_worker_{os.getpid()}.log"

    setup = {}
    t = time.perf_counter()
    url = setup_bench_database()
    setup["fresh database + migrate"] = time.perf_counter() - t
    workers = None
    try:
        window_end, hour_rows = _set_up(url, args, setup)
        t = time.perf_counter()
        workers = Workers(url, args.workers, worker_log)
        setup["start + warm celery workers"] = time.perf_counter() - t
        print("set-up (not timed; bypasses the ingest contract: readings COPYed straight into")
        print(f"clean_sensor_readings): {sum(setup.values()):.1f} s")
        for part, seconds in setup.items():
            print(f"  {part:<46} {seconds:7.1f} s")
        print(
            f"  scored hour: {hour_rows:,} clean readings, window_end {window_end:%Y-%m-%d %H:%M}Z"
        )

        framework = _framework_run(window_end, workers, args.timeout)
        worker_peaks = workers.peaks()
        bare = _bare_run(url, window_end)
        comparison = _compare(url, framework["run_id"], window_end)
        for pid, peak in workers.peaks().items():  # again, just before stopping
            worker_peaks[pid] = max(peak, worker_peaks.get(pid, 0))
        workers.stop()
        _report(args, framework, bare, comparison, worker_peaks, worker_log)
        if args.profile:
            _profile(framework["run_id"], window_end)
    finally:
        if workers is not None:
            workers.stop()
        shutil.rmtree(artifacts, ignore_errors=True)


# ------------------------------------------------------------------------- set-up


def _set_up(url: str, args, setup: dict) -> tuple[datetime, int]:
    import numpy as np
    from django.db import connection

    from bench.scoring_data import copy_clean_readings
    from fleetmon.simulator.faults import plan_faults
    from fleetmon.simulator.fleet import FleetLayout, make_fleet
    from fleetmon.simulator.generator import FleetGenerator
    from fleetmon.simulator.services import faults_record, fleet_register
    from scoring.models import ModelRole
    from scoring.services.features import features_compute
    from scoring.services.registry import model_set_role
    from scoring.services.training import model_train, rules_fallback_ensure

    window_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hour_start = window_end - timedelta(hours=1)
    history_start = hour_start - timedelta(hours=args.history_hours)

    t = time.perf_counter()
    layout = make_fleet(args.devices, seed=SEED)
    fleet_register(layout=layout)
    faults = plan_faults(layout, seed=SEED, start=history_start, end=window_end, fraction=0.05)
    faults_record(faults=faults, seed=SEED)
    generator = FleetGenerator(layout, faults, seed=SEED)
    setup[f"fleet: {args.devices:,} devices, {len(faults):,} faults"] = time.perf_counter() - t

    # The training sample: the same devices, so the same readings, over the history.
    t = time.perf_counter()
    rng = np.random.default_rng(SEED)
    size = min(args.sample_devices, args.devices)
    picked = sorted(rng.choice(len(layout.devices), size=size, replace=False))
    sample = FleetLayout(sites=layout.sites, devices=tuple(layout.devices[i] for i in picked))
    ids = {d.device_id for d in sample.devices}
    sample_gen = FleetGenerator(sample, [f for f in faults if f.device_id in ids], seed=SEED)
    rows = copy_clean_readings(url, sample_gen, history_start, hour_start, seed=1)
    setup[f"history: {size:,} devices x {args.history_hours} h = {rows:,} rows"] = (
        time.perf_counter() - t
    )
    t = time.perf_counter()
    windows = features_compute(minutes=15, start=history_start, end=hour_start)
    setup[f"history features: {windows:,} 15-min windows"] = time.perf_counter() - t

    t = time.perf_counter()
    trained = []
    for kind in TRAINED:
        version = model_train(
            kind=kind,
            actor="bench",
            now=hour_start,
            lookback=timedelta(hours=args.history_hours),
        )
        # Forced: a fresh database has no regression feature set to gate the promotion.
        model_set_role(
            version=version,
            role=ModelRole.PRODUCTION,
            actor="bench",
            reason="bench set-up (no regression set)",
            force=True,
        )
        trained.append(version.model_id)
        rows = version.training_rows
    rules_fallback_ensure()
    setup[f"train + promote 3 models on {rows:,} windows"] = time.perf_counter() - t

    t = time.perf_counter()
    hour_rows = copy_clean_readings(url, generator, hour_start, window_end, seed=2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clean_sensor_readings")
        cursor.execute("ANALYZE device_features")
        cursor.execute("ANALYZE registry_device")
    setup[f"scored hour: {args.devices:,} devices x 60 min, COPY"] = time.perf_counter() - t
    return window_end, hour_rows


class Workers:
    """`celery worker --pool prefork` processes on the bench database, log to a file."""

    def __init__(self, url: str, concurrency: int, log_path: Path):
        from fleetmon.celery import app

        self.app = app
        self.node = f"bench-scoring-{os.getpid()}@bench"
        app.control.purge()
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "fleetmon", "worker"]
            + ["--concurrency", str(concurrency), "--pool", "prefork", "-Q", "celery"]
            + ["--loglevel", "INFO", "-n", self.node],
            cwd=REPO_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited; see {log_path}")
            replies = app.control.ping(destination=[self.node], timeout=1.0)
            if replies and len(self.children()) >= concurrency:
                return
            time.sleep(0.5)
        raise RuntimeError(f"celery worker did not answer within 90 s; see {log_path}")

    def children(self) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def peaks(self) -> dict[int, int]:
        """VmHWM (peak RSS, bytes) of the worker's main process and each pool process."""
        return {pid: _vm_hwm(pid) for pid in [self.process.pid, *self.children()]}

    def stop(self) -> None:
        """Warm shutdown (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: the pool children are reaped
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _vm_hwm(pid: str | int = "self", field: str = "VmHWM:") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    """Hand freed memory back, then reset this process's VmHWM (`echo 5 > clear_refs`)."""
    try:
        import ctypes
        import gc

        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


# ------------------------------------------------------------------------- framework


def _framework_run(window_end: datetime, workers: Workers, timeout: float) -> dict:
    from django.utils import timezone

    from scoring.models import ScoringRun, ScoringShard
    from scoring.services.features import features_compute
    from scoring.tasks import dispatch_run

    hour_start = window_end - timedelta(hours=1)
    _reset_peak()
    rss_before = _vm_hwm("self", "VmRSS:")
    started = timezone.now()
    t0 = time.perf_counter()
    rows15 = features_compute(minutes=15, start=hour_start, end=window_end)
    t15 = time.perf_counter()
    rows60 = 0  # not the hourly run's work: refresh_features_task computes 60-minute windows
    t60 = time.perf_counter()
    sent = timezone.now()
    run_id = dispatch_run(
        trigger="hourly", window_end=window_end, requested_by="bench", kinds=KINDS
    )
    t_sent = time.perf_counter()
    if run_id is None:
        raise RuntimeError("dispatch_run created no run")
    while True:
        run = ScoringRun.objects.get(pk=run_id)
        if run.alerted_at is not None:
            break
        if workers.process.poll() is not None:
            raise RuntimeError(f"celery worker died; see {workers.log_path}")
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"run {run_id} not alerted after {timeout:.0f} s: {run.status}")
        time.sleep(0.05)
    bench_peak = _vm_hwm()

    shards = list(ScoringShard.objects.filter(run_id=run_id).select_related("model_version"))
    per_kind = {}
    for shard in shards:
        entry = per_kind.setdefault(
            shard.model_version.kind, {"shards": 0, "busy": 0.0, "max": 0.0, "rows": 0, "st": []}
        )
        busy = (shard.finished_at - shard.started_at).total_seconds()
        entry["shards"] += 1
        entry["busy"] += busy
        entry["max"] = max(entry["max"], busy)
        entry["rows"] += shard.rows_written
        entry["st"].append(shard.status)
    return {
        "run_id": run_id,
        "status": run.status,
        "error": run.error,
        "total": (run.alerted_at - started).total_seconds(),
        "features15": t15 - t0,
        "features60": t60 - t15,
        "rows15": rows15,
        "rows60": rows60,
        "dispatch": t_sent - t60,
        "first_shard_wait": (min(s.started_at for s in shards) - sent).total_seconds(),
        "scoring": (run.finished_at - sent).total_seconds(),
        "alerting": (run.alerted_at - run.finished_at).total_seconds(),
        "shards": len(shards),
        "per_kind": per_kind,
        "devices_scored": run.devices_scored,
        "devices_skipped": run.devices_skipped,
        "rows_written": run.rows_written,
        "alerts_created": run.alerts_created,
        "bench_peak": bench_peak,
        "bench_rss_before": rss_before,
    }


# ------------------------------------------------------------------------- bare script


def _bare_run(url: str, window_end: datetime) -> dict:
    """The same aggregation and scoring with psycopg, pandas, numpy and scikit-learn only."""
    import numpy as np
    import pandas as pd
    import psycopg
    from django.conf import settings

    from scoring.feature_sql import features_select_sql
    from scoring.features import FEATURE_NAMES

    history = settings.FLEETMON_IMPUTATION_HISTORY_WINDOWS
    min_completeness = settings.FLEETMON_MIN_SCORING_COMPLETENESS
    artifact_dir = Path(settings.FLEETMON_ARTIFACT_DIR)
    features = list(FEATURE_NAMES)
    selected = ", ".join(f"f.{n}::float8 AS {n}" for n in features)
    sql = f"""
        SELECT f.device_id, d.cohort_id, d.dropout_state, f.window_start, f.window_end,
               f.sensor_completeness::float8 AS completeness, {selected}
        FROM ({features_select_sql()}) f JOIN registry_device d USING (device_id)
        WHERE d.is_active
    """
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_scores")
        conn.execute(
            "CREATE TABLE bench_bare_scores (model_id text, device_id text,"
            " window_end timestamptz, anomaly_score float8, anomaly_flag bool,"
            " top_contributors text[], contributor_scores float8[],"
            " PRIMARY KEY (model_id, device_id, window_end))"
        )
    parts = {}
    _reset_peak()
    t0 = time.perf_counter()
    t = t0
    with psycopg.connect(url) as conn, conn.cursor(binary=True) as cursor:
        # 1. The fitted models, straight from their artifact files.
        cursor.execute(
            "SELECT kind, model_id, artifact_path, cohort_medians FROM scoring_modelversion"
            " WHERE role = 'production' AND kind = ANY(%s)",
            [list(KINDS)],
        )
        models = {}
        for kind, model_id, path, medians in cursor.fetchall():
            body = (artifact_dir / path).read_bytes().split(b"\n", 2)[2]  # magic, header, pickle
            models[kind] = (model_id, pickle.loads(body), medians)
        parts["load models"] = time.perf_counter() - t

        # 2. The feature SQL: 15-minute windows over the hour plus the forward-fill history.
        t = time.perf_counter()
        params = {"device_from": "", "device_to": "~", "end": window_end}
        cursor.execute(
            sql,
            {**params, "minutes": 15, "start": window_end - timedelta(minutes=15 * (history + 1))},
        )
        frame = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
        parts["feature SQL 15 min -> pandas"] = time.perf_counter() - t

        # 3. Latest window per eligible device; ffill from earlier windows, then cohort medians.
        t = time.perf_counter()
        frame = frame.sort_values(["device_id", "window_end"], kind="stable", ignore_index=True)
        filled = frame[features].groupby(frame["device_id"], sort=False).ffill()
        latest = (
            (frame["window_end"] == window_end).to_numpy()
            & (frame["dropout_state"] != "FULL_DROPOUT").to_numpy()
            & (frame["completeness"] >= min_completeness).to_numpy()
        )
        raw_latest = frame.loc[latest].reset_index(drop=True)
        medians = pd.DataFrame.from_dict(models["isolation_forest"][2], orient="index")
        medians = medians.reindex(columns=features).reindex(raw_latest["cohort_id"])
        filled = filled.loc[latest].reset_index(drop=True).fillna(medians.reset_index(drop=True))
        complete = ~filled.isna().any(axis=1).to_numpy()
        ready = raw_latest.loc[complete].reset_index(drop=True)
        x_all = filled.loc[complete].to_numpy()
        devices = ready["device_id"].to_numpy()
        cohorts = ready["cohort_id"].to_numpy()
        parts["impute (ffill + cohort medians)"] = time.perf_counter() - t

        scores = {}
        # 4a. Fleet Isolation Forest.
        t = time.perf_counter()
        model_id, detector, _ = models["isolation_forest"]
        scores[model_id] = (devices, *_forest_scores(detector._forest, x_all), features)
        thresholds = {model_id: detector.threshold}
        parts["isolation forest (score_samples)"] = time.perf_counter() - t

        # 4b. One forest per cohort, the fleet forest for the others.
        t = time.perf_counter()
        model_id, detector, _ = models["cohort_isolation_forest"]
        score = np.zeros(len(x_all))
        z = np.zeros_like(x_all)
        own = np.zeros(len(x_all), dtype=bool)
        for cohort, forest in detector._cohorts.items():
            mask = cohorts == cohort
            own |= mask
            if mask.any():
                score[mask], z[mask] = _forest_scores(forest, x_all[mask])
        if (~own).any():
            score[~own], z[~own] = _forest_scores(detector._fleet, x_all[~own])
        scores[model_id] = (devices, score, z, features)
        thresholds[model_id] = detector.threshold
        parts["cohort forests (score_samples)"] = time.perf_counter() - t

        # 4c. Statistical baseline: z against device, else cohort, else fleet baselines.
        t = time.perf_counter()
        model_id, detector, _ = models["statistical_baseline"]
        names = list(detector.feature_names)
        x = filled.loc[complete, names].to_numpy(dtype=float, copy=True)
        spreads = [j for j, n in enumerate(names) if n.endswith("_std")]
        x[:, spreads] = np.log1p(np.clip(x[:, spreads], 0, None))
        mode = np.where(x[:, names.index("defrost_active_fraction")] > 0, "defrost", "normal")
        mean = np.tile(detector._fleet_mean, (len(x), 1))
        std = np.tile(detector._fleet_std, (len(x), 1))
        for baselines, keys in (
            (detector._fleet, mode),
            (detector._cohorts, np.char.add(np.char.add(cohorts.astype(str), "|"), mode)),
            (detector._devices, np.char.add(np.char.add(devices.astype(str), "|"), mode)),
        ):
            at = baselines.index.get_indexer(keys.astype(object))
            found = at >= 0
            mean[found], std[found] = baselines.mean[at[found]], baselines.std[at[found]]
        floor = np.fmax(std, np.maximum(1e-3, 0.05 * np.abs(mean)))
        z = np.nan_to_num(np.minimum(np.abs(x - mean) / floor, 1e9), nan=0.0)
        k = detector.params["z_at_threshold"] / np.sqrt(-np.log1p(-detector.threshold))
        scores[model_id] = (devices, -np.expm1(-((z.max(axis=1) / k) ** 2)), z, names)
        thresholds[model_id] = detector.threshold
        parts["statistical z-scores (numpy)"] = time.perf_counter() - t

        # 4d. The four fallback rules on the un-imputed latest windows.
        t = time.perf_counter()
        model_id, detector, _ = models["rules_fallback"]
        p = detector.params
        names = list(detector.feature_names)
        x = raw_latest[names].to_numpy(dtype=float, na_value=np.nan)
        col = {n: j for j, n in enumerate(names)}
        excess = np.zeros_like(x)
        defrosting = x[:, col["defrost_active_fraction"]] > 0
        for feature, limit, above, temperature in (
            ("temp_evaporator_mean", p["temp_evaporator_mean_above"], True, True),
            ("vibration_compressor_max", p["vibration_compressor_max_above"], True, False),
            ("pressure_low_mean", p["pressure_low_mean_below"], False, False),
            ("current_compressor_max", p["current_compressor_max_above"], True, False),
        ):
            past = x[:, col[feature]] - limit if above else limit - x[:, col[feature]]
            fired = (past > 0) & ~(defrosting & temperature)
            excess[fired, col[feature]] = np.minimum(past[fired] / max(abs(limit), 1.0), 1e9)
        rule_devices = raw_latest["device_id"].to_numpy()
        scores[model_id] = (rule_devices, (excess > 0).any(axis=1), excess, names)
        parts["fallback rules (numpy)"] = time.perf_counter() - t

        # 5. COPY every score into a scratch table.
        t = time.perf_counter()
        written = 0
        columns = "model_id, device_id, window_end, anomaly_score, anomaly_flag, "
        columns += "top_contributors, contributor_scores"
        with cursor.copy(f"COPY bench_bare_scores ({columns}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["text", "text", "timestamptz", "float8", "bool", "text[]", "float8[]"])
            for model_id, (ids, score, z, names) in scores.items():
                rules = score.dtype == bool
                order = np.argsort(-z, axis=1, kind="stable")[:, :5]
                top = np.take_along_axis(z, order, axis=1)
                top_names = np.asarray(names, dtype=object)[order].tolist()
                top_values = top.tolist()
                flags = score if rules else score > thresholds[model_id]
                values = np.zeros(len(ids)) if rules else score
                for i, device in enumerate(ids.tolist()):
                    if rules:  # only the rules that fired, like the framework
                        kept = [j for j, v in enumerate(top_values[i]) if v > 0]
                        contributors = [top_names[i][j] for j in kept]
                        contributor_scores = [top_values[i][j] for j in kept]
                    else:
                        contributors, contributor_scores = top_names[i], top_values[i]
                    cp.write_row(
                        (
                            model_id,
                            device,
                            window_end,
                            float(values[i]),
                            bool(flags[i]),
                            contributors,
                            contributor_scores,
                        )
                    )
                written += len(ids)
        conn.commit()
        parts["COPY scores"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    return {
        "total": total,
        "parts": parts,
        "devices": len(devices),
        "rows_written": written,
        "hourly_rows": 0,
        "flagged": {
            m: int(np.sum(s[1] if s[1].dtype == bool else s[1] > thresholds[m]))
            for m, s in scores.items()
        },
        "peak": _vm_hwm(),
    }


def _forest_scores(calibrated, values):
    """Calibrated score and contributor z of a fitted forest: plain sklearn + numpy."""
    import numpy as np

    raw = -calibrated.forest.score_samples(np.clip(values, calibrated.low, calibrated.high))
    cal = calibrated.calibration
    score = np.interp(raw, cal.knots_raw, cal.knots_score)
    beyond = raw > cal.knots_raw[-1]
    score[beyond] = 1.0 - (1.0 - cal.knots_score[-1]) * np.exp(
        -(raw[beyond] - cal.knots_raw[-1]) / cal.tail_scale
    )
    floor = np.fmax(calibrated.std, np.maximum(1e-3, 0.05 * np.abs(calibrated.mean)))
    z = np.nan_to_num(np.minimum(np.abs(values - calibrated.mean) / floor, 1e9), nan=0.0)
    return np.clip(score, 0.0, 1.0), z


def _compare(url: str, run_id: int, window_end: datetime) -> dict:
    """How closely the bare scores match the framework's, per model."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT b.model_id, count(s.device_id), count(*),
                   max(abs(b.anomaly_score - s.anomaly_score)),
                   count(*) FILTER (WHERE b.anomaly_flag IS DISTINCT FROM s.anomaly_flag),
                   count(*) FILTER (WHERE b.top_contributors IS DISTINCT FROM s.top_contributors)
            FROM bench_bare_scores b
            LEFT JOIN model_scores s ON s.model_id = b.model_id AND s.device_id = b.device_id
                 AND s.window_end = b.window_end AND s.run_id = %s
            WHERE b.window_end = %s
            GROUP BY b.model_id ORDER BY b.model_id
            """,
            [run_id, window_end],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


# ------------------------------------------------------------------------- report


def _report(args, fw, bare, comparison, worker_peaks, worker_log) -> None:
    print()
    print(
        f"== framework: run {fw['run_id']} ({fw['status']}), {args.workers} prefork workers, "
        f"{fw['shards']} shards ({len(KINDS)} models)"
    )
    if fw["error"]:
        print(f"   errors: {fw['error'][:500]}")
    print(f"   features 15 min ({fw['rows15']:,} windows)        {fw['features15']:7.2f} s")
    print(f"   run_create + send shards                  {fw['dispatch']:7.2f} s")
    print(
        f"   scoring wall (dispatch -> last shard done) {fw['scoring']:6.2f} s"
        f"   (first shard started after {fw['first_shard_wait']:.2f} s)"
    )
    for kind, e in sorted(fw["per_kind"].items()):
        print(
            f"     {kind:<26} {e['shards']:3} shards, busy {e['busy']:7.2f} s"
            f" (max {e['max']:.2f} s), {e['rows']:,} rows, {','.join(sorted(set(e['st'])))}"
        )
    busy = sum(e["busy"] for e in fw["per_kind"].values())
    print(
        f"     shard busy total {busy:.2f} s = {busy / max(fw['scoring'], 1e-9):.2f} workers busy"
    )
    print(f"   alerts + pre-hydration (last shard -> alerted_at) {fw['alerting']:7.2f} s")
    tasks = _task_times(worker_log)
    if tasks:
        print(
            f"   (worker log: alert task ran {tasks.get('alerts', 0):.2f} s;"
            f" shard tasks {tasks.get('shards', 0):.2f} s in total)"
        )
    print(
        f"   devices scored {fw['devices_scored']:,} (skipped {fw['devices_skipped']:,}),"
        f" rows written {fw['rows_written']:,}, alerts created {fw['alerts_created']:,}"
    )
    print(
        f"   TOTAL framework (first feature query -> alerted_at)  {fw['total']:7.2f} s"
        f"   (target < 60 s)"
    )

    print()
    print("== bare script: psycopg + pandas + sklearn, one process")
    for part, seconds in bare["parts"].items():
        print(f"   {part:<40} {seconds:7.2f} s")
    print(
        f"   devices scored {bare['devices']:,}, rows written {bare['rows_written']:,}"
        f"; flagged {bare['flagged']}"
    )
    print(f"   TOTAL bare                               {bare['total']:7.2f} s")
    print(
        "   bare vs framework scores (model: matched/rows, max |score diff|, flag diffs,"
        " contributor diffs):"
    )
    for model, (matched, rows, diff, flags, contributors) in comparison.items():
        diff = "n/a" if diff is None else f"{diff:.2e}"
        print(f"     {model:<28} {matched:,}/{rows:,}  {diff}  {flags}  {contributors}")

    print()
    minutes = fw["total"] / 60
    alerting_free = fw["total"] - fw["alerting"]
    print("== summary")
    print(f"   devices                {args.devices:,}")
    print(
        f"   framework              {fw['total']:7.2f} s   ({fw['devices_scored'] / minutes:,.0f} "
        f"devices/min)   target < 60 s: {'OK' if fw['total'] < 60 else 'MISSED'}"
    )
    rate = bare["devices"] / (bare["total"] / 60)
    print(f"   bare                   {bare['total']:7.2f} s   ({rate:,.0f} devices/min)")
    ratio = fw["total"] / bare["total"]
    verdict = "OK" if ratio <= 3 else "MISSED"
    print(f"   ratio framework/bare   {ratio:7.2f}     target <= 3: {verdict}")
    ratio = alerting_free / bare["total"]
    print(f"   ratio without alerts   {ratio:7.2f}     (features + shards only)")
    hwm = max(worker_peaks.values(), default=0)
    print(
        "   peak RSS, worker processes (VmHWM): "
        + ", ".join(f"{pid}: {v / 2**20:,.0f} MiB" for pid, v in worker_peaks.items())
    )
    # Not getrusage(RUSAGE_CHILDREN): Linux folds the pre-exec RSS of the forked child (a
    # copy of this process, set-up data and all) into it, so it overstates the workers.
    print(f"   peak RSS, largest worker process   {hwm / 2**20:8,.0f} MiB")
    print(f"   peak RSS, all worker processes sum {sum(worker_peaks.values()) / 2**20:8,.0f} MiB")
    print(
        f"   peak RSS, bench process (framework phase) {fw['bench_peak'] / 2**20:,.0f} MiB"
        f" (of which {fw['bench_rss_before'] / 2**20:,.0f} MiB held since set-up),"
        f" (bare script) {bare['peak'] / 2**20:,.0f} MiB"
    )
    worst = max(hwm, fw["bench_peak"])
    total = sum(worker_peaks.values()) + fw["bench_peak"] - fw["bench_rss_before"]
    print(
        f"   framework target < 2 GB: largest process {'OK' if worst < 2 * GB else 'MISSED'};"
        f" workers + bench growth together {total / 2**20:,.0f} MiB"
        f" ({'OK' if total < 2 * GB else 'MISSED'}; PostgreSQL not counted)"
    )
    print(f"   worker log: {worker_log}")


def _profile(run_id: int, window_end: datetime) -> None:
    """Where a shard's and the alert step's time goes: cProfile, in this process.

    The framework run's alert step again, after its alerts are deleted so that it does the
    same work as the first time; then one shard per model of a fresh on-demand run over the
    same window (detectors loaded first, as a warm worker has them).
    """
    import cProfile
    import pstats

    from alerts.models import DeviceAlert
    from alerts.services import alerts_from_run
    from scoring.services.runs import load_detector, run_create, shard_score

    def show(title: str, profile: cProfile.Profile, seconds: float) -> None:
        """The 16 calls with the most cumulative time, in the app and the libraries it uses."""
        stats = pstats.Stats(profile).stats
        keep = re.compile(r"/(scoring|alerts|fleetmon|sklearn|pandas|psycopg|django|numpy)/")
        rows = sorted(
            (
                (ct, nc, f"{Path(file).parent.name}/{Path(file).name}:{line} {func}")
                for (file, line, func), (_, nc, _, ct, _) in stats.items()
                if keep.search(file) or file == "~"
            ),
            reverse=True,
        )
        print(f"\n-- profile: {title}: {seconds:.2f} s (cumulative s, calls, function)")
        for ct, nc, where in rows[:16]:
            print(f"   {ct:7.2f}  {nc:>9}  {where[-100:]}")

    # The alert step first: the profiled shards below re-stamp their scores with a new run.
    DeviceAlert.objects.filter(window_end=window_end).delete()
    profile = cProfile.Profile()
    t = time.perf_counter()
    profile.runcall(alerts_from_run, run_id=run_id)
    show(f"alerts_from_run(run {run_id})", profile, time.perf_counter() - t)

    run = run_create(
        trigger="on_demand", window_end=window_end, requested_by="bench-profile", kinds=KINDS
    )
    first = {}
    for shard in run.shards.select_related("model_version").order_by("device_from"):
        first.setdefault(shard.model_version.kind, shard)
    for kind, shard in sorted(first.items()):
        load_detector(shard.model_version.model_id, shard.model_version.artifact_sha256)
        profile = cProfile.Profile()
        t = time.perf_counter()
        profile.runcall(shard_score, shard_id=shard.pk)
        show(f"one {kind} shard ({shard.device_from}..)", profile, time.perf_counter() - t)


def _task_times(log_path: Path) -> dict[str, float]:
    """Task run times from the worker log ('Task x[id] succeeded in 1.23s')."""
    times = {}
    try:
        text = log_path.read_text()
    except OSError:
        return times
    for name, seconds in re.findall(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s", text):
        key = "alerts" if "alerts_from_run" in name else "shards" if "score_shard" in name else None
        if key:
            times[key] = times.get(key, 0.0) + float(seconds)
    return times


if __name__ == "__main__":
    main()
