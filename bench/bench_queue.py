"""Triage queue latency on a million alerts: first page, a deep page, a filtered search.

Creates a fresh bench database, registers 10,000 devices on 400 sites in 4 regions, COPYs
1,000,000 alerts (every severity and status, 5 % suppressed, 30 days of history, a few
storms), then times `alerts.queue.queue_page` (what the page and the API call) and the API
itself through the Django test client:

  * first page: fleet-wide user, default filters (active, not suppressed);
  * deep page: the page after the 500,000th row (a cursor, as "load more" would send);
  * filtered + search: operator of one region, HIGH + CRITICAL, title search "vibration";
  * rare search: a word in 0.5 % of titles; exact device id; CSV export of one site.

    python -m bench.bench_queue [--alerts 1000000] [--repeat 30] [--proposed-indexes]

--proposed-indexes also creates the indexes considered but not adopted (proposed_indexes())
and times everything again. Figures are printed, not asserted.
"""

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from bench.benchdb import setup_bench_database

SEVERITIES = (("CRITICAL", 0.05), ("HIGH", 0.15), ("MEDIUM", 0.30), ("LOW", 0.50))
STATUSES = (
    ("open", 0.60),
    ("acknowledged", 0.15),
    ("in_progress", 0.05),
    ("resolved", 0.15),
    ("false_positive", 0.05),
)
SLA = {
    "CRITICAL": timedelta(minutes=30),
    "HIGH": timedelta(hours=2),
    "MEDIUM": timedelta(hours=4),
    "LOW": timedelta(hours=24),
}
# (words, weight): "vibration" is common, "superheat" rare.
TITLES = (
    ("Compressor vibration anomaly detected", 20),
    ("Evaporator temperature anomaly detected", 30),
    ("Compressor current anomaly detected", 20),
    ("Low-side pressure anomaly detected", 15),
    ("Door opening flagged by fallback rules", 14.5),
    ("Superheat anomaly detected", 0.5),
)
REGIONS = ("US-W", "US-C", "US-E", "US-S")


def proposed_indexes():
    """Indexes considered for DeviceAlert.Meta.indexes but not adopted, as Django objects so
    the SQL is exactly what the queue queries use. (The title trigram index was adopted:
    migration alerts 0006, so every run has it.)"""
    from django.db.models import Index, Q

    return [
        # The seek order itself, without the suppressed rows the queue hides by default.
        Index(
            fields=["status", "severity", "sla_deadline", "alert_id"],
            condition=Q(suppressed=False),
            name="alert_queue_seek",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--proposed-indexes", action="store_true")
    args = parser.parse_args()
    setup_bench_database()

    from django.db import connection

    devices = _fleet()
    started = time.perf_counter()
    _copy_alerts(devices, args.alerts, now=datetime.now(UTC))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE device_alerts")
    print(f"inserted {args.alerts:,} alerts in {time.perf_counter() - started:.1f} s")

    deep = min(500_000, args.alerts // 2)
    _run(args.repeat, devices, deep)
    if args.proposed_indexes:
        from alerts.models import DeviceAlert

        with connection.schema_editor() as editor:
            for index in proposed_indexes():
                editor.add_index(DeviceAlert, index)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE device_alerts")
        print("\nwith the proposed indexes:")
        _run(args.repeat, devices, deep)


def _fleet() -> list[tuple[str, str, str]]:
    """400 sites x 25 devices; returns (device_id, site_id, region)."""
    from fleetmon.registry.models import Cohort, Device, Site

    cohort = Cohort.objects.create(
        cohort_id="WF-5HP/temperate", equipment_model="WF-5HP", climate_zone="temperate"
    )
    sites = [
        Site(
            site_id=f"SITE-{REGIONS[i % 4]}-{i:04d}",
            site_name=f"Store {i} {('Harbor', 'Main St', 'Mall', 'Depot')[i % 4]}",
            region=REGIONS[i % 4],
            climate_zone="temperate",
        )
        for i in range(400)
    ]
    Site.objects.bulk_create(sites)
    rows = [
        Device(
            device_id=f"REF-{site.region}-{s:04d}{d:03d}",
            site=site,
            cohort=cohort,
            region=site.region,
            equipment_model="WF-5HP",
            install_date=date(2021, 3, 1),
            firmware_version="4.2.0",
        )
        for s, site in enumerate(sites)
        for d in range(25)
    ]
    Device.objects.bulk_create(rows, batch_size=2000)
    return [(d.device_id, d.site_id, d.region) for d in rows]


def _copy_alerts(devices, count: int, *, now: datetime) -> None:
    from django.db import connection

    from alerts.models import StormIncident

    rng = random.Random(7)
    severities = rng.choices([s for s, _ in SEVERITIES], [w for _, w in SEVERITIES], k=count)
    statuses = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES], k=count)
    titles = rng.choices([t for t, _ in TITLES], [w for _, w in TITLES], k=count)
    # 20 site storms of 30 CRITICAL alerts in the last day.
    storms = [
        StormIncident.objects.create(
            scope="site",
            site_id=devices[i * 500][1],
            region=devices[i * 500][2],
            started_at=now - timedelta(hours=i + 1),
            last_alert_at=now - timedelta(hours=i),
            alert_count=30,
        )
        for i in range(20)
    ]
    columns = (
        "alert_id, device_id, site_id, region, alert_type, severity, source, title, "
        "description, model_id, models_flagging, anomaly_score, top_contributors, "
        "contributor_scores, dedup_key, first_detected_at, alert_created_at, last_seen_at, "
        "suppressed, ontology_action_id, status, escalation_level, escalated_to, sla_deadline, "
        "sla_breached, storm_id"
    )
    span = 30 * 24 * 3600
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        with raw.copy(f"COPY device_alerts ({columns}) FROM STDIN") as copy:
            for i in range(count):
                device_id, site_id, region = devices[rng.randrange(len(devices))]
                severity, status = severities[i], statuses[i]
                storm = None
                if i < 600:  # the storms' members
                    storm = storms[i // 30]
                    severity, status = "CRITICAL", "open"
                    device_id, site_id, region = devices[(i // 30) * 500 + i % 25]
                created = now - timedelta(seconds=rng.randrange(span))
                copy.write_row(
                    (
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        device_id,
                        site_id,
                        region,
                        "ANOMALY_DETECTED",
                        severity,
                        "batch",
                        f"{titles[i]} on device {device_id}",
                        "Contributing sensors: compressor vibration (vibration_compressor_max).",
                        "isolation_forest_v3",
                        ["isolation_forest_v3"],
                        rng.random(),
                        ["vibration_compressor_max"],
                        [3.1],
                        f"{device_id}|isolation_forest_v3|{i}",
                        created,
                        created,
                        created,
                        rng.random() < 0.05,
                        "",
                        status,
                        "L1",
                        "",
                        created + SLA[severity],
                        created + SLA[severity] < now and status == "open",
                        storm.pk if storm else None,
                    )
                )


def _run(repeat: int, devices, deep_offset: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from alerts.queue import ALERT, Position, QueueFilters, queue_export, queue_page
    from fleetmon.accounts.models import Profile

    users = get_user_model().objects
    manager_user, _ = users.get_or_create(username="bench-manager")
    manager, _ = Profile.objects.get_or_create(user=manager_user, defaults={"role": "manager"})
    operator_user, _ = users.get_or_create(username="bench-operator")
    operator, _ = Profile.objects.get_or_create(
        user=operator_user, defaults={"role": "operator", "regions": ["US-W"]}
    )
    with connection.cursor() as cursor:  # the row at deep_offset in the default queue, once
        cursor.execute(
            "SELECT severity, sla_deadline, alert_id FROM device_alerts"
            " WHERE status IN ('open', 'acknowledged', 'in_progress') AND NOT suppressed"
            " AND storm_id IS NULL ORDER BY CASE severity WHEN 'CRITICAL' THEN 4"
            " WHEN 'HIGH' THEN 3 WHEN 'MEDIUM' THEN 2 ELSE 1 END DESC, sla_deadline, alert_id"
            " OFFSET %s LIMIT 1",
            [deep_offset - 1],
        )
        severity, deadline, alert_id = cursor.fetchone()
    rank = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}[severity]
    deep = Position(rank, deadline, ALERT, str(alert_id)).encode()
    searched = QueueFilters(severity=("HIGH", "CRITICAL"), q="vibration")
    device_id = devices[1234][0]
    api = Client()
    api.force_login(operator_user)

    cases = {
        "first page (fleet-wide)": lambda: queue_page(manager, QueueFilters()),
        f"deep page (after {deep_offset:,})": lambda: queue_page(
            manager, QueueFilters(), cursor=deep
        ),
        "filtered + search (operator)": lambda: queue_page(operator, searched),
        "rare search 'superheat' (operator)": lambda: queue_page(
            operator, QueueFilters(q="superheat")
        ),
        "exact device id search": lambda: queue_page(manager, QueueFilters(q=device_id)),
        "API first page (operator)": lambda: api.get("/api/v1/alerts/"),
        "API filtered + search (operator)": lambda: api.get(
            "/api/v1/alerts/", {"severity": ["HIGH", "CRITICAL"], "q": "vibration"}
        ),
        "CSV one site (all statuses)": lambda: sum(
            1
            for _ in queue_export(
                manager,
                QueueFilters(site=(devices[0][1],), status=("open", "resolved")),
            ).iterator()
        ),
    }
    print(f"{'case':40} {'p50 ms':>8} {'p95 ms':>8} {'rows':>6}")
    for name, call in cases.items():
        call()  # warm up: imports, caches, the first plan
        timings, result = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            result = call()
            timings.append((time.perf_counter() - started) * 1000)
        rows = _rows(result)
        p95 = statistics.quantiles(timings, n=20)[18] if len(timings) > 1 else timings[0]
        print(f"{name:40} {statistics.median(timings):8.1f} {p95:8.1f} {rows:>6}")


def _rows(result) -> str:
    if isinstance(result, int):
        return str(result)
    if hasattr(result, "rows"):
        return str(len(result.rows))
    if hasattr(result, "status_code"):
        return str(len(result.json().get("results", []))) if result.status_code == 200 else "ERR"
    return "?"


if __name__ == "__main__":
    main()
