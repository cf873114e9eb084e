"""Reads for monitoring: feature frames for the drift job, stored drift results."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection

from monitoring.drift import DRIFT_FEATURES
from monitoring.models import FeatureDriftMetric

_HASH_BUCKETS = 1 << 20
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER_SIZE = 19  # signature, flags, header-extension length 0
_COPY_TRAILER_SIZE = 2


def _copy_frame(sql: str, params: dict) -> pd.DataFrame:
    """Run `sql` (cohort_id and the drift features) through a binary COPY into a DataFrame.

    TRICKY: every field is made fixed-width in SQL (features coalesced to NaN, the cohort
    sent as its int4 position in the cohort list), so each row has the same byte layout
    and numpy reads the whole buffer as one structured array: about ten times faster than
    text COPY + read_csv, and than fetching 300k wide rows as Python tuples.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT cohort_id FROM registry_cohort ORDER BY cohort_id")
        cohorts = [row[0] for row in cursor.fetchall()]
        buffer = bytearray()
        with cursor.copy(
            f"COPY ({sql}) TO STDOUT WITH (FORMAT binary)", {**params, "cohorts": cohorts}
        ) as copy:
            for chunk in copy:
                buffer += chunk
    row = np.dtype(
        [("fields", ">i2"), ("cohort_len", ">i4"), ("cohort", ">i4")]
        + [x for name in DRIFT_FEATURES for x in ((f"{name}_len", ">i4"), (name, ">f8"))]
    )
    if bytes(buffer[: len(_COPY_HEADER)]) != _COPY_HEADER:
        raise ValueError("not a PostgreSQL binary COPY stream")
    body = memoryview(buffer)[_COPY_HEADER_SIZE : len(buffer) - _COPY_TRAILER_SIZE]
    rows = np.frombuffer(body, dtype=row)
    if len(rows) and (rows["fields"] != 1 + len(DRIFT_FEATURES)).any():
        raise ValueError("unexpected COPY row layout")
    frame = pd.DataFrame({name: rows[name].astype(np.float64) for name in DRIFT_FEATURES})
    names = np.array(["", *cohorts], dtype=object)
    frame.insert(0, "cohort_id", names[rows["cohort"]])
    return frame


def _select(where: str) -> str:
    features = ", ".join(
        f"coalesce(f.{name}::float8, 'NaN'::float8) AS {name}" for name in DRIFT_FEATURES
    )
    return f"""
        SELECT coalesce(array_position(%(cohorts)s::text[], d.cohort_id), 0)::int4 AS cohort,
               {features}
        FROM device_features f JOIN registry_device d USING (device_id)
        WHERE f.window_duration_minutes = %(minutes)s AND {where}
    """


def window_features(*, minutes: int, window_end: datetime) -> pd.DataFrame:
    """The feature rows of every device for the window ending at `window_end`, with cohort."""
    return _copy_frame(
        _select("f.window_end = %(window_end)s"), {"minutes": minutes, "window_end": window_end}
    )


def baseline_window_ends(*, window_end: datetime, days: int) -> list[datetime]:
    """The same clock window on each of the `days` days before (for daily windows: the
    previous `days` days), so time-of-day patterns (doors, defrost, ambient) cancel out."""
    return [window_end - timedelta(days=k) for k in range(1, days + 1)]


def baseline_features(
    *, minutes: int, window_end: datetime, days: int, max_rows: int
) -> pd.DataFrame:
    """A deterministic sample of at most about `max_rows` baseline rows.

    The rows are those of `baseline_window_ends`; when there are more than `max_rows`, a
    row is kept when a hash of (device, window end) falls under the kept share, so a re-run
    reads the same rows and each device-window is in or out independently of the others.
    """
    params = {
        "minutes": minutes,
        "ends": baseline_window_ends(window_end=window_end, days=days),
        "buckets": _HASH_BUCKETS,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM device_features f"
            " WHERE f.window_duration_minutes = %(minutes)s AND f.window_end = ANY(%(ends)s)",
            params,
        )
        available = cursor.fetchone()[0]
    params["keep"] = _HASH_BUCKETS
    if available > max_rows:
        params["keep"] = max(1, round(_HASH_BUCKETS * max_rows / available))
    return _copy_frame(
        _select(
            "f.window_end = ANY(%(ends)s) AND (hashtextextended(f.device_id || '@' ||"
            " extract(epoch FROM f.window_end)::bigint::text, 0) & (%(buckets)s - 1))"
            " < %(keep)s"
        ),
        params,
    )


def previous_breaches(
    *, minutes: int, window_end: datetime, windows: int
) -> dict[tuple[str, str, str, datetime], bool]:
    """KS breaches stored for the `windows` windows before this one, keyed by
    (scope, cohort_id, feature_name, window_end)."""
    ends = [window_end - timedelta(minutes=minutes * k) for k in range(1, windows + 1)]
    rows = FeatureDriftMetric.objects.filter(
        window_minutes=minutes, window_end__in=ends
    ).values_list("scope", "cohort_id", "feature_name", "window_end", "ks_exceeded")
    return {(s, c, f, end): exceeded for s, c, f, end, exceeded in rows}
