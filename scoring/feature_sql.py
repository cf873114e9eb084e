"""The C3 feature SQL: one GROUP BY over clean readings per window size (domain §2.3, §10.2).

Portable SQL: `date_bin` (PostgreSQL 14+) aligns windows to the clock on TimescaleDB and on
plain PostgreSQL alike. Aggregates ignore nulls, so a feature is null only when every
reading of its sensor in the window is null; `stddev_samp` and `regr_slope` are null for a
single reading, which the spec reads as a quality problem, not zero variance.
"""

from scoring.features import AGGREGATES, DERIVED, FEATURE_NAMES

# date_bin needs an origin; any midnight UTC keeps 15/60/1440-minute windows on :00/:15/...
ORIGIN = "2000-01-01 00:00:00+00"


def _aggregate_sql(how: str, column: str) -> str:
    return {
        "mean": f"avg({column})",
        "std": f"stddev_samp({column})",
        "min": f"min({column})",
        "max": f"max({column})",
        # Least-squares slope in units per minute.
        "slope": f"regr_slope({column}, extract(epoch FROM timestamp_utc) / 60.0)",
        "p95": f"percentile_cont(0.95) WITHIN GROUP (ORDER BY {column})",
        "fraction": f"avg({column}::int)",
    }[how]


def features_select_sql() -> str:
    """A SELECT of every feature row for windows of %(minutes)s over [%(start)s, %(end)s).

    Parameters: minutes (int), start, end (timestamptz, aligned to the window),
    device_from / device_to (inclusive device id range; pass '' and '~' for all).
    """
    aggregates = ",\n            ".join(
        f"{_aggregate_sql(a.how, a.sensor)} AS {a.name}" for a in AGGREGATES
    )
    derived = """
            CASE WHEN pressure_low_mean > 0 THEN pressure_high_mean / pressure_low_mean END
                AS pressure_ratio,
            temp_condenser_mean - temp_evaporator_mean AS temp_spread_evap_cond,
            temp_discharge_mean - temp_suction_mean AS temp_spread_discharge_suction,
            CASE WHEN temp_condenser_mean - temp_evaporator_mean > 0
                 THEN current_compressor_mean / (temp_condenser_mean - temp_evaporator_mean)
            END AS current_per_temp_spread"""
    return f"""
        SELECT device_id, window_start,
               window_start + make_interval(mins => %(minutes)s) AS window_end,
               %(minutes)s AS window_duration_minutes, reading_count,
               {", ".join(a.name for a in AGGREGATES)},
               sensor_completeness, quality_flag_count,
               {derived}
        FROM (
            SELECT device_id,
                date_bin(make_interval(mins => %(minutes)s), timestamp_utc,
                         TIMESTAMPTZ '{ORIGIN}') AS window_start,
                count(*) AS reading_count,
                {aggregates},
                avg(1 - sensor_null_count / 14.0) AS sensor_completeness,
                count(*) FILTER (WHERE cardinality(quality_flags) > 0) AS quality_flag_count
            FROM clean_sensor_readings
            WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
              AND device_id BETWEEN %(device_from)s AND %(device_to)s
            GROUP BY 1, 2
        ) per_window
    """


# Column order of the SELECT above, for COPY and DataFrames.
FEATURE_COLUMNS = (
    "device_id",
    "window_start",
    "window_end",
    "window_duration_minutes",
    "reading_count",
    *(a.name for a in AGGREGATES),
    "sensor_completeness",
    "quality_flag_count",
    *DERIVED,
)
assert set(FEATURE_COLUMNS[5:]) == set(FEATURE_NAMES)
