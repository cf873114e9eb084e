"""The data-drift job (KS + PSI over 45 features, fleet and per cohort) next to Evidently.

Set-up (not timed): `bench.drift_data` draws a baseline sample and one 15-minute window
per device for a simulated fleet, with real drift in the current window (hot-dry ambient
+5 °C, DF-3HP vibration x1.25, humidity +2 pp).

Ours (timed, best of --repeat): `monitoring.drift.drift_frame` on the two DataFrames, once
fleet-only and once fleet + every cohort in one pass (the job's call); the per-cohort
figure is the difference. One thread unless --workers says otherwise.

Evidently (timed, same frames, same run): its `ValueDrift` with stattests `ks` and `psi`
for each of the 45 columns, one Report for the fleet and one per cohort, run by
`bench/evidently_drift.py` in .venv-bench (made by bench/setup_evidently.sh: Evidently
cannot share the app's venv). The frames go over as .npz.

Cross-checks: our KS statistic and p-value against scipy.stats.ks_2samp on every (scope,
feature); our KS p-value against Evidently's; Evidently's PSI against our PSI formula on
Evidently's own bins (its binning is not D8's: see `evidently_binned_proportions`); and,
for information, how far D8's PSI and Evidently's PSI are apart.

    python -m bench.bench_drift                      # 100,000 devices, about 5 minutes
    python -m bench.bench_drift --devices 10000      # smoke run
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench.drift_data import drift_frames
from monitoring.drift import DRIFT_FEATURES, drift_frame, psi_from_proportions

ROOT = Path(__file__).resolve().parent.parent
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def best_time(call, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def peak_traced_mib(call) -> float:
    """Peak of the memory Python and numpy allocate during `call`, in MiB."""
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run_evidently(baseline: pd.DataFrame, current: pd.DataFrame, cohorts: list[str]) -> dict:
    subprocess.run(["bash", str(ROOT / "bench" / "setup_evidently.sh")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        frames, result = Path(tmp) / "frames.npz", Path(tmp) / "result.json"
        codes = {c: i for i, c in enumerate(cohorts)}
        np.savez(
            frames,
            features=np.array(DRIFT_FEATURES),
            cohorts=np.array(cohorts),
            baseline=baseline[list(DRIFT_FEATURES)].to_numpy(np.float64, na_value=np.nan),
            current=current[list(DRIFT_FEATURES)].to_numpy(np.float64, na_value=np.nan),
            baseline_cohort=baseline["cohort_id"].map(codes).fillna(-1).to_numpy(np.int64),
            current_cohort=current["cohort_id"].map(codes).to_numpy(np.int64),
        )
        subprocess.run(
            [str(BENCH_PYTHON), str(ROOT / "bench" / "evidently_drift.py"), frames, result],
            check=True,
        )
        return json.loads(result.read_text())


def evidently_binned_proportions(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, ...]:
    """Evidently 0.7's PSI bins (legacy stattests.utils.get_binned_data), re-done in numpy.

    More than 20 distinct reference values: Sturges histogram bins over the reference and
    current values together (np.histogram_bin_edges(..., 'sturges'), about 20 bins for
    400k values, equal width, spanning both samples' range); otherwise one bin per distinct
    value of either sample. Zero proportions become min(non-zero)/1e6 when that minimum is
    <= 1e-4, else 1e-4 (D8 instead: ten baseline deciles, zeros floored at 1e-6).
    """
    if np.unique(ref).size > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        expected = np.histogram(ref, edges)[0] / ref.size
        actual = np.histogram(cur, edges)[0] / cur.size
    else:
        keys = np.union1d(ref, cur)
        expected = np.array([np.count_nonzero(ref == k) for k in keys]) / ref.size
        actual = np.array([np.count_nonzero(cur == k) for k in keys]) / cur.size
    for p in (expected, actual):
        smallest = p[p > 0].min()
        p[p == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return expected, actual


def samples(frame: pd.DataFrame, cohort: str, feature: str) -> np.ndarray:
    rows = frame if cohort == "" else frame[frame["cohort_id"] == cohort]
    values = rows[feature].to_numpy(np.float64, na_value=np.nan)
    return values[~np.isnan(values)]


def cross_check(ours: pd.DataFrame, evidently: dict, baseline, current) -> dict:
    ev = {(r[0], r[1], r[2], r[3]): r[4] for r in evidently["rows"]}
    diffs = {k: 0.0 for k in ("scipy_stat", "scipy_p", "ev_p", "ev_psi", "d8_vs_ev_psi")}
    both = ours_only = ev_only = 0
    started = time.perf_counter()
    for row in ours.itertuples():
        b = samples(baseline, row.cohort_id, row.feature_name)
        c = samples(current, row.cohort_id, row.feature_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            reference = stats.ks_2samp(b, c)
        diffs["scipy_stat"] = max(diffs["scipy_stat"], abs(reference.statistic - row.ks_statistic))
        diffs["scipy_p"] = max(diffs["scipy_p"], abs(reference.pvalue - row.ks_p_value))
        key = (row.scope, row.cohort_id, row.feature_name)
        if not ev:
            continue
        diffs["ev_p"] = max(diffs["ev_p"], abs(ev[(*key, "ks")] - row.ks_p_value))
        ev_psi = ev[(*key, "psi")]
        ours_on_ev_bins = psi_from_proportions(*evidently_binned_proportions(b, c))
        diffs["ev_psi"] = max(diffs["ev_psi"], abs(ev_psi - ours_on_ev_bins))
        diffs["d8_vs_ev_psi"] = max(diffs["d8_vs_ev_psi"], abs(ev_psi - row.psi))
        both += row.psi > 0.2 and ev_psi > 0.2
        ours_only += row.psi > 0.2 and not ev_psi > 0.2
        ev_only += ev_psi > 0.2 and not row.psi > 0.2
    diffs["seconds"] = time.perf_counter() - started
    diffs["significant"] = (both, ours_only, ev_only)
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=None, help="default 3 x devices")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--no-checks", action="store_true", help="skip the cross-checks")
    args = parser.parse_args()
    baseline_rows = args.baseline_rows or 3 * args.devices

    started = time.perf_counter()
    baseline, current = drift_frames(
        devices=args.devices, baseline_rows=baseline_rows, seed=args.seed
    )
    cohorts = sorted(current["cohort_id"].unique())
    print(
        f"set-up: {args.devices:,} devices in {len(cohorts)} cohorts (smallest "
        f"{current['cohort_id'].value_counts().min():,}), baseline {len(baseline):,} rows, "
        f"current {len(current):,} rows, {len(DRIFT_FEATURES)} features "
        f"({time.perf_counter() - started:.1f} s, not timed)"
    )

    workers = args.workers
    fleet_s, _ = best_time(
        lambda: drift_frame(baseline, current, group=None, workers=workers), args.repeat
    )
    total_s, ours = best_time(lambda: drift_frame(baseline, current, workers=workers), args.repeat)
    peak_mib = peak_traced_mib(lambda: drift_frame(baseline, current, workers=workers))
    print(f"\nours ({workers} thread{'s' if workers > 1 else ''}, best of {args.repeat}):")
    print(f"  fleet only                   {fleet_s:6.2f} s")
    print(f"  fleet + {len(cohorts)} cohorts, one pass  {total_s:6.2f} s")
    print(f"  per-cohort share (difference) {total_s - fleet_s:5.2f} s")
    print(f"  peak traced memory {peak_mib:.0f} MiB (frames themselves not counted)")
    print(f"  process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(
        f"  rows {len(ours)}: severity {ours['severity'].value_counts().to_dict()}, "
        f"KS breaches {int(ours['ks_exceeded'].sum())}"
    )

    evidently = {"rows": []}
    if not args.no_evidently:
        evidently = run_evidently(baseline, current, cohorts)
        ev_total = evidently["fleet_s"] + evidently["cohort_s"]
        print(
            f"\nEvidently {evidently['evidently']} (pandas {evidently['pandas']}, ValueDrift "
            "ks + psi per column, 1 thread):"
        )
        print(f"  fleet                        {evidently['fleet_s']:6.2f} s")
        print(f"  {len(cohorts)} cohorts                   {evidently['cohort_s']:6.2f} s")
        print(f"  total                        {ev_total:6.2f} s")
        print(f"  process peak RSS {evidently['peak_rss_mib']:.0f} MiB")
        print(f"\nspeed-up (Evidently total / ours total): {ev_total / total_s:.1f}x")

    if args.no_checks:
        return
    diffs = cross_check(ours, evidently, baseline, current)
    print(f"\ncross-checks over {len(ours)} (scope, feature) cells ({diffs['seconds']:.0f} s):")
    print(f"  KS statistic vs scipy.stats.ks_2samp   max |diff| {diffs['scipy_stat']:.3g}")
    print(f"  KS p-value   vs scipy.stats.ks_2samp   max |diff| {diffs['scipy_p']:.3g}")
    if evidently["rows"]:
        both, ours_only, ev_only = diffs["significant"]
        print(f"  KS p-value   vs Evidently 'ks'        max |diff| {diffs['ev_p']:.3g}")
        print(f"  Evidently 'psi' vs our PSI on its bins max |diff| {diffs['ev_psi']:.3g}")
        print(
            f"  D8 PSI vs Evidently 'psi' (different bins) max |diff| "
            f"{diffs['d8_vs_ev_psi']:.3g}; PSI > 0.2 in both {both}, only D8 {ours_only}, "
            f"only Evidently {ev_only}"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
