"""Evidently's data drift on the frames `bench.bench_drift` saved; run by it in .venv-bench.

    .venv-bench/bin/python bench/evidently_drift.py FRAMES.npz RESULT.json

Per column two `ValueDrift` metrics, stattest `ks` (its value is the p-value of
scipy.stats.ks_2samp) and `psi` (its own binning), in one Report for the fleet and one per
cohort on that cohort's rows. Timed: building the DataFrames' subsets, the Datasets and the
Reports; not timed: loading the file and importing Evidently. Writes the timings, the peak
RSS and every value as JSON. Imports nothing from the app: this venv has pandas 2.
"""

import json
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift

METHODS = ("ks", "psi")


def drift_values(baseline: pd.DataFrame, current: pd.DataFrame, features: list[str]) -> dict:
    """{(feature, method): value} from one Evidently report of current against baseline."""
    definition = DataDefinition(numerical_columns=features)
    report = Report([ValueDrift(column=f, method=m) for f in features for m in METHODS])
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(baseline, data_definition=definition),
    )
    values = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        values[(config["column"], config["method"])] = metric["value"]
    return values


def main(frames_path: str, result_path: str) -> None:
    data = np.load(frames_path, allow_pickle=False)
    features = [str(f) for f in data["features"]]
    cohorts = [str(c) for c in data["cohorts"]]
    baseline = pd.DataFrame(data["baseline"], columns=features)
    current = pd.DataFrame(data["current"], columns=features)
    b_codes, c_codes = data["baseline_cohort"], data["current_cohort"]

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        fleet = drift_values(baseline, current, features)
        fleet_s = time.perf_counter() - started
        rows += [["fleet", "", f, m, v] for (f, m), v in fleet.items()]
        started = time.perf_counter()
        for code, cohort in enumerate(cohorts):
            part = drift_values(
                baseline[b_codes == code].reset_index(drop=True),
                current[c_codes == code].reset_index(drop=True),
                features,
            )
            rows += [["cohort", cohort, f, m, v] for (f, m), v in part.items()]
        cohort_s = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(result_path, "w") as out:
        json.dump(
            {
                "fleet_s": fleet_s,
                "cohort_s": cohort_s,
                "peak_rss_mib": peak_kib / 1024,
                "evidently": __import__("evidently").__version__,
                "pandas": pd.__version__,
                "rows": rows,
            },
            out,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
