"""The C3 feature SQL (domain §2.3, §10.2).

Two statements:

- `features_select_sql`: one GROUP BY over clean readings per 15- or 60-minute window.
  Readings are first tagged with the compressor's state (running: current above
  FLEETMON_RUNNING_CURRENT_A; steady: running for 3 readings, no defrost and no silence
  of 10 minutes or more in the last 30),
  with window functions that look 30 minutes before the range so a window's first readings
  know what came before them.
- `trailing_select_sql`: the 1440-minute windows ending at each hour, composed from the
  hour windows they cover (means weighted by readings, spreads pooled, extremes kept), so a
  trailing day can be scored every hour without re-reading a day of readings per device.
  Their last 6 hours are also kept apart (the `_6h` features).

Portable SQL: `date_bin` (PostgreSQL 14+) aligns windows to the clock on TimescaleDB and
on plain PostgreSQL alike. Aggregates ignore nulls, so a feature is null only when every
reading of its sensor in the window is null; `stddev_samp` and `regr_slope` are null for a
single reading, which the spec reads as a quality problem, not zero variance.
"""

from scoring.features import (
    AGGREGATES,
    DERIVED,
    DUTY,
    FEATURE_NAMES,
    MODEL_FEATURES,
    RECENT,
    RECENT_AMBIENT,
    RECENT_HOURS,
    RUNNING,
    STEADY_COUNT,
)

# date_bin needs an origin; any midnight UTC keeps 15/60/1440-minute windows on :00/:15/...
ORIGIN = "2000-01-01 00:00:00+00"
# Readings before a window that its first readings' state depends on (the defrost look-back).
LOOK_BACK_MINUTES = 30
SILENCE_MINUTES = 10

_DERIVED_SQL = """
            CASE WHEN pressure_low_mean > 0 THEN pressure_high_mean / pressure_low_mean END
                AS pressure_ratio,
            temp_condenser_mean - temp_evaporator_mean AS temp_spread_evap_cond,
            temp_discharge_mean - temp_suction_mean AS temp_spread_discharge_suction,
            CASE WHEN temp_condenser_mean - temp_evaporator_mean > 0
                 THEN current_compressor_mean / (temp_condenser_mean - temp_evaporator_mean)
            END AS current_per_temp_spread"""


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
    device_from / device_to (inclusive device id range; pass '' and '~' for all),
    running_amps (the current above which the compressor runs).
    """
    aggregates = ",\n                ".join(
        f"{_aggregate_sql(a.how, a.sensor)} AS {a.name}" for a in AGGREGATES
    )
    running = ",\n                ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {r.expression}) FILTER (WHERE steady)"
        f" AS {r.name}"
        for r in RUNNING
    )
    recent = ", ".join(f"NULL::float8 AS {name}" for name in (*RECENT, RECENT_AMBIENT))
    return f"""
        WITH tagged AS (
            SELECT r.*, r.current_compressor > %(running_amps)s AS running
            FROM clean_sensor_readings r
            WHERE r.timestamp_utc >= %(start)s - make_interval(mins => {LOOK_BACK_MINUTES})
              AND r.timestamp_utc < %(end)s
              AND r.device_id BETWEEN %(device_from)s AND %(device_to)s
        ), staged AS (
            SELECT t.*,
                lag(t.running) OVER w AS was_running,
                bool_and(t.running) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
                    AS steady_run,
                bool_or(t.defrost_cycle) OVER (w ROWS BETWEEN 30 PRECEDING AND CURRENT ROW)
                    AS defrosted,
                t.timestamp_utc - lag(t.timestamp_utc) OVER w AS step
            FROM tagged t
            WINDOW w AS (PARTITION BY t.device_id ORDER BY t.timestamp_utc)
        ), restarted AS (
            SELECT s.*,
                -- A silence of minutes (a power loss, the link down) is followed by a long
                -- pull-down of a warm box: not the device's steady running.
                max(s.step) OVER (PARTITION BY s.device_id ORDER BY s.timestamp_utc
                                  ROWS BETWEEN 30 PRECEDING AND CURRENT ROW)
                    > make_interval(mins => {SILENCE_MINUTES}) AS after_silence
            FROM staged s
        ), readings AS (
            SELECT r.*,
                (r.steady_run AND NOT coalesce(r.defrosted, false)
                 AND NOT coalesce(r.after_silence, false)) AS steady
            FROM restarted r
            WHERE r.timestamp_utc >= %(start)s
        )
        SELECT device_id, window_start,
               window_start + make_interval(mins => %(minutes)s) AS window_end,
               %(minutes)s AS window_duration_minutes, reading_count,
               {", ".join(a.name for a in AGGREGATES)},
               sensor_completeness, quality_flag_count,
               {_DERIVED_SQL},
               {", ".join(DUTY)}, {", ".join(r.name for r in RUNNING)},
               {recent}, {STEADY_COUNT}
        FROM (
            SELECT device_id,
                date_bin(make_interval(mins => %(minutes)s), timestamp_utc,
                         TIMESTAMPTZ '{ORIGIN}') AS window_start,
                count(*) AS reading_count,
                {aggregates},
                avg(1 - sensor_null_count / 14.0) AS sensor_completeness,
                count(*) FILTER (WHERE cardinality(quality_flags) > 0) AS quality_flag_count,
                avg(running::int) AS duty_cycle,
                count(*) FILTER (WHERE running AND was_running IS FALSE) * 60.0
                    / %(minutes)s AS compressor_starts_per_hour,
                {running},
                count(*) FILTER (WHERE steady) AS {STEADY_COUNT}
            FROM readings
            GROUP BY 1, 2
        ) per_window
    """


def _weighted(name: str, weight: str, where: str = "") -> str:
    """The mean of the hour values of `name`, weighted, over the hours that have one."""
    when = f" AND {where}" if where else ""
    return (
        f"sum({name} * {weight}) FILTER (WHERE {name} IS NOT NULL{when})"
        f" / nullif(sum({weight}) FILTER (WHERE {name} IS NOT NULL{when}), 0)"
    )


def _pooled_std(mean: str, std: str) -> str:
    """The spread of the whole window from its hours: within-hour variance plus the
    spread of the hour means around the window's mean (weights: readings)."""
    n, have = "reading_count", f"{mean} IS NOT NULL"
    total = f"sum({n}) FILTER (WHERE {have})"
    first = f"sum({n} * {mean}) FILTER (WHERE {have})"
    second = f"sum({n} * {mean} * {mean}) FILTER (WHERE {have})"
    within = f"sum(({n} - 1) * coalesce({std}, 0) ^ 2) FILTER (WHERE {have})"
    return (
        f"sqrt(greatest(({within} + {second} - {first} ^ 2 / nullif({total}, 0))"
        f" / nullif({total} - 1, 0), 0))"
    )


def _composed(how: str, name: str) -> str:
    mean_of = name.rsplit("_", 1)[0] + "_mean"
    return {
        "mean": _weighted(name, "reading_count"),
        "std": _pooled_std(mean_of, name),
        "min": f"min({name})",
        "max": f"max({name})",
        # Least squares over the hour means, per minute like the readings' slope.
        "slope": f"regr_slope({mean_of}, extract(epoch FROM window_end) / 60.0)",
        # The hours' own 95th percentiles: a day's upper tail is where its worst hours sit.
        "p95": f"max({name})",
        "fraction": _weighted(name, "reading_count"),
    }[how]


def trailing_select_sql() -> str:
    """A SELECT of the 1440-minute windows ending at each hour in
    [%(first_end)s, %(last_end)s], composed from the 60-minute windows they cover.

    Parameters: first_end, last_end (timestamptz on the hour), device_from / device_to.
    """
    aggregates = ",\n                ".join(
        f"{_composed(a.how, a.name)} AS {a.name}" for a in AGGREGATES
    )
    running = ",\n                ".join(
        f"{_weighted(r.name, STEADY_COUNT)} AS {r.name}" for r in RUNNING
    )
    recent_running = ",\n                ".join(
        f"{_weighted(r.name, STEADY_COUNT, 'recent')} AS {r.name}_{RECENT_HOURS}h" for r in RUNNING
    )
    return f"""
        WITH ends AS (
            SELECT generate_series(%(first_end)s::timestamptz, %(last_end)s::timestamptz,
                                   interval '1 hour') AS trailing_end
        ), hours AS (
            SELECT e.trailing_end, f.*,
                   f.window_end > e.trailing_end - make_interval(hours => {RECENT_HOURS})
                       AS recent
            FROM ends e JOIN device_features f
              ON f.window_duration_minutes = 60
             AND f.window_end > e.trailing_end - interval '1 day'
             AND f.window_end <= e.trailing_end
             AND f.device_id BETWEEN %(device_from)s AND %(device_to)s
        )
        SELECT device_id, trailing_end - interval '1 day' AS window_start,
               trailing_end AS window_end,
               1440 AS window_duration_minutes, reading_count,
               {", ".join(a.name for a in AGGREGATES)},
               sensor_completeness, quality_flag_count,
               {_DERIVED_SQL},
               {", ".join(DUTY)}, {", ".join(r.name for r in RUNNING)},
               {", ".join(RECENT)}, {RECENT_AMBIENT}, {STEADY_COUNT}
        FROM (
            SELECT h.device_id, h.trailing_end,
                sum(h.reading_count) AS reading_count,
                {aggregates},
                {_weighted("sensor_completeness", "reading_count")} AS sensor_completeness,
                sum(h.quality_flag_count) AS quality_flag_count,
                {_weighted("duty_cycle", "reading_count")} AS duty_cycle,
                avg(h.compressor_starts_per_hour) AS compressor_starts_per_hour,
                {running},
                {_weighted("duty_cycle", "reading_count", "recent")}
                    AS duty_cycle_{RECENT_HOURS}h,
                avg(h.compressor_starts_per_hour) FILTER (WHERE recent)
                    AS compressor_starts_per_hour_{RECENT_HOURS}h,
                {recent_running},
                {_weighted("temp_ambient_mean", "reading_count", "recent")} AS {RECENT_AMBIENT},
                sum(h.{STEADY_COUNT}) AS {STEADY_COUNT}
            FROM hours h
            GROUP BY h.device_id, h.trailing_end
        ) per_window
    """


# Column order of both SELECTs above, for COPY and DataFrames.
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
    *DUTY,
    *(r.name for r in RUNNING),
    *RECENT,
    RECENT_AMBIENT,
    STEADY_COUNT,
)
assert set(FEATURE_COLUMNS[5:-1]) == set(MODEL_FEATURES) and set(FEATURE_NAMES) <= set(
    FEATURE_COLUMNS
)
