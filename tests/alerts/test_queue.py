"""The triage queue query (alerts.queue): order, filters, search, storms, keyset pages, scope."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import DeviceAlert, StormIncident
from alerts.queue import InvalidCursor, Position, QueueFilters, queue_alerts, queue_page
from fleetmon.accounts.models import Profile
from fleetmon.registry.models import Site
from tests.conftest import register_devices

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
_serial = itertools.count()


def make_alert(device, *, severity="HIGH", status="open", deadline=None, **fields) -> DeviceAlert:
    """An alert of `device`; every required column filled, overridable by keyword."""
    created = fields.pop("created", NOW - timedelta(minutes=30))
    n = next(_serial)
    values = {
        "device": device,
        "site_id": device.site_id,
        "region": device.region,
        "alert_type": "ANOMALY_DETECTED",
        "severity": severity,
        "source": "batch",
        "title": f"Compressor current anomaly detected on device {device.device_id}",
        "description": "Contributing sensors: compressor current.",
        "model_id": "isolation_forest_v3",
        "dedup_key": f"{device.device_id}|isolation_forest_v3|current_compressor_max|{n}",
        "window_end": created,
        "first_detected_at": created,
        "alert_created_at": created,
        "last_seen_at": created,
        "status": status,
        "sla_deadline": deadline or created + timedelta(hours=2),
    }
    values.update(fields)
    return DeviceAlert.objects.create(**values)


def fleet_wide() -> Profile:
    return Profile(role="manager")


def ids(page) -> list[str]:
    return [str(row["alert_id"]) for row in page.rows if row["kind"] == "alert"]


@pytest.fixture
def west(db):
    return register_devices(3, region="US-W", site_no=1)


@pytest.fixture
def east(db):
    return register_devices(2, region="US-E", site_no=2)


# ---------------------------------------------------------------- order


def test_queue_orders_by_severity_then_sla_deadline(west):
    low_soon = make_alert(west[0], severity="LOW", deadline=NOW + timedelta(minutes=1))
    high_late = make_alert(west[0], severity="HIGH", deadline=NOW + timedelta(hours=3))
    critical = make_alert(west[1], severity="CRITICAL", deadline=NOW + timedelta(hours=9))
    high_soon = make_alert(west[2], severity="HIGH", deadline=NOW + timedelta(minutes=5))
    medium = make_alert(west[2], severity="MEDIUM", deadline=NOW)

    page = queue_page(fleet_wide(), QueueFilters())

    assert ids(page) == [str(a.pk) for a in (critical, high_soon, high_late, medium, low_soon)]
    assert page.next_cursor is None


def test_equal_deadlines_are_ordered_by_alert_id(west):
    same = NOW + timedelta(hours=1)
    alerts = [make_alert(west[i % 3], deadline=same) for i in range(6)]
    page = queue_page(fleet_wide(), QueueFilters())
    assert ids(page) == sorted(str(a.pk) for a in alerts)


def test_default_queue_hides_closed_and_suppressed_alerts(west):
    active = [make_alert(west[0], status=s) for s in ("open", "acknowledged", "in_progress")]
    make_alert(west[0], status="resolved")
    make_alert(west[0], status="false_positive")
    suppressed = make_alert(west[1], suppressed=True, suppressed_by=active[0])

    assert set(ids(queue_page(fleet_wide(), QueueFilters()))) == {str(a.pk) for a in active}
    with_suppressed = queue_page(fleet_wide(), QueueFilters(include_suppressed=True))
    assert str(suppressed.pk) in ids(with_suppressed)


# ---------------------------------------------------------------- filters


def _filter_cases():
    """(filters, fields of the alert that matches, fields of one that does not)."""
    return {
        "severity": (
            QueueFilters(severity=("CRITICAL", "MEDIUM")),
            {"severity": "MEDIUM"},
            {"severity": "HIGH"},
        ),
        "status": (
            QueueFilters(status=("resolved",)),
            {"status": "resolved"},
            {"status": "open"},
        ),
        "alert_type": (
            QueueFilters(alert_type=("ANOMALY_SUSTAINED",)),
            {"alert_type": "ANOMALY_SUSTAINED"},
            {"alert_type": "ANOMALY_DETECTED"},
        ),
        "source": (
            QueueFilters(source=("streaming",)),
            {"source": "streaming", "model_id": "compressor_overload"},
            {"source": "batch"},
        ),
        "rule id": (
            QueueFilters(model_id=("compressor_overload",)),
            {"source": "streaming", "model_id": "compressor_overload"},
            {"source": "streaming", "model_id": "vibration_spike"},
        ),
        "model kind matches its versions": (
            QueueFilters(model_id=("isolation_forest",)),
            {"model_id": "isolation_forest_v7"},
            {"model_id": "cohort_isolation_forest_v2"},
        ),
        "window": (
            QueueFilters(window="1h"),
            {"created": NOW - timedelta(minutes=20)},
            {"created": NOW - timedelta(hours=2)},
        ),
        "created range": (
            QueueFilters(
                created_after=NOW - timedelta(days=2), created_before=NOW - timedelta(days=1)
            ),
            {"created": NOW - timedelta(hours=36)},
            {"created": NOW - timedelta(hours=12)},
        ),
    }


@pytest.mark.parametrize("case", list(_filter_cases()))
def test_each_filter_keeps_matching_alerts_only(west, case):
    filters, matching, other = _filter_cases()[case]
    hit = make_alert(west[0], **matching)
    make_alert(west[1], **other)
    assert ids(queue_page(fleet_wide(), filters, now=NOW)) == [str(hit.pk)]


def test_site_and_region_filters(west, east):
    w, e = make_alert(west[0]), make_alert(east[0])
    assert ids(queue_page(fleet_wide(), QueueFilters(region=("US-E",)))) == [str(e.pk)]
    assert ids(queue_page(fleet_wide(), QueueFilters(site=(west[0].site_id,)))) == [str(w.pk)]


@pytest.mark.parametrize(
    "text", ["compressor VIBRATION", "ref-us-e-00200001", "SITE-US-SEA-0002", "sea-0002", "mall"]
)
def test_search_finds_device_site_id_site_name_and_title(west, east, text):
    Site.objects.filter(pk=east[1].site_id).update(site_name="Harbor Mall")
    target = make_alert(east[1], title=f"Compressor vibration anomaly on {east[1].device_id}")
    make_alert(west[0])  # compressor current, US-W, Store 1
    found = ids(queue_page(fleet_wide(), QueueFilters(q=text)))
    assert found == [str(target.pk)], text


def test_search_by_part_of_a_device_id(west):
    target = make_alert(west[2])
    make_alert(west[0])
    assert ids(queue_page(fleet_wide(), QueueFilters(q="100002"))) == [str(target.pk)]


def test_search_results_are_paged_in_queue_order(west):
    severities = ["LOW", "CRITICAL", "HIGH", "HIGH", "MEDIUM", "CRITICAL", "HIGH"]
    deadlines = [NOW + timedelta(minutes=m) for m in (3, 1, 2, 2, 0, 9, 2)]
    hits = [
        make_alert(west[i % 3], severity=s, deadline=d)
        for i, (s, d) in enumerate(zip(severities, deadlines, strict=True))
    ]
    make_alert(west[0], title="Door opening flagged by fallback rules")
    rows, _ = _all_pages(fleet_wide(), QueueFilters(q="current"), limit=2)
    rank = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}
    expected = sorted(hits, key=lambda a: (rank[a.severity], a.sla_deadline, str(a.pk)))
    assert [str(r["alert_id"]) for r in rows] == [str(a.pk) for a in expected]


def test_search_wildcards_are_plain_characters(west):
    make_alert(west[0])
    assert queue_page(fleet_wide(), QueueFilters(q="%")).rows == []
    assert queue_page(fleet_wide(), QueueFilters(q="_")).rows == []


# ---------------------------------------------------------------- storms


def _storm(devices, count, *, site_id=None, region="US-W") -> tuple[StormIncident, list]:
    storm = StormIncident.objects.create(
        scope="site" if site_id else "fleet",
        site_id=site_id,
        region=region if site_id else "",
        started_at=NOW - timedelta(minutes=10),
        last_alert_at=NOW - timedelta(minutes=5),
        alert_count=count,
    )
    members = [
        make_alert(
            devices[i % len(devices)],
            severity="CRITICAL",
            source="streaming",
            model_id="compressor_overload",
            storm=storm,
            deadline=NOW + timedelta(minutes=20 + i),
        )
        for i in range(count)
    ]
    return storm, members


def test_a_storm_is_one_row_with_its_count_in_the_filter(west):
    storm, members = _storm(west, 4, site_id=west[0].site_id)
    members[0].status = "resolved"
    members[0].save()
    earlier = make_alert(west[0], severity="CRITICAL", deadline=NOW + timedelta(minutes=5))
    high = make_alert(west[1], severity="HIGH", deadline=NOW)

    page = queue_page(fleet_wide(), QueueFilters())

    assert [row["kind"] for row in page.rows] == ["alert", "storm", "alert"]
    storm_row = page.rows[1]
    assert storm_row["storm_id"] == storm.pk
    assert storm_row["alert_count"] == 3  # the resolved member is outside the filter
    assert storm_row["severity"] == "CRITICAL"
    assert storm_row["sla_deadline"] == members[1].sla_deadline  # its most urgent member
    assert storm_row["title"] == "Alert storm: 3 alerts at Store 1"
    assert ids(page) == [str(earlier.pk), str(high.pk)]


def test_expanding_a_storm_lists_its_members(west):
    storm, members = _storm(west, 3, site_id=west[0].site_id)
    make_alert(west[0], severity="CRITICAL")
    page = queue_page(fleet_wide(), QueueFilters(storm=storm.pk))
    assert ids(page) == [str(m.pk) for m in members]


def test_a_storm_without_members_in_the_filter_is_not_shown(west):
    _storm(west, 3, site_id=west[0].site_id)
    assert queue_page(fleet_wide(), QueueFilters(severity=("HIGH",))).rows == []


def test_a_fleet_storm_counts_only_the_members_in_scope(west, east):
    storm, _ = _storm(west + east, 5)  # members 0-2 on the west devices, 3-4 east
    west_members = DeviceAlert.objects.filter(storm=storm, region="US-W").count()
    operator = Profile(role="operator", regions=["US-W"])
    [row] = queue_page(operator, QueueFilters()).rows
    assert row["kind"] == "storm" and row["alert_count"] == west_members == 3
    assert row["title"] == "Alert storm: 3 alerts across the fleet"


# ---------------------------------------------------------------- keyset pages


def _all_pages(profile, filters, limit):
    rows, cursor, pages = [], None, 0
    while True:
        page = queue_page(profile, filters, cursor=cursor, limit=limit)
        rows += page.rows
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return rows, pages
        assert pages < 1000, "pagination does not end"


def _key(row):
    return (row["kind"], str(row.get("alert_id") or row.get("storm_id")))


def test_pages_cover_every_row_once_in_queue_order(west, east):
    deadlines = [NOW + timedelta(minutes=m) for m in (5, 5, 5, 30, 30, 90)]  # many ties
    for severity, deadline, device in itertools.product(
        ("CRITICAL", "HIGH", "MEDIUM", "LOW"), deadlines, west + east
    ):
        make_alert(device, severity=severity, deadline=deadline)
    _storm(west, 4, site_id=west[0].site_id)  # CRITICAL, deadlines 20..23 min: mid-list

    whole = queue_page(fleet_wide(), QueueFilters(), limit=200).rows
    assert len(whole) == 4 * 6 * 5 + 1
    for limit in (1, 7, 30):
        paged, pages = _all_pages(fleet_wide(), QueueFilters(), limit)
        assert [_key(r) for r in paged] == [_key(r) for r in whole], limit
        assert pages == -(-len(whole) // limit)
    storm_at = [r["kind"] for r in whole].index("storm")
    ranks_before = {r["severity"] for r in whole[:storm_at]}
    assert ranks_before == {"CRITICAL"} and whole[storm_at + 1]["severity"] == "CRITICAL"


def test_pages_stay_put_when_alerts_arrive_before_the_cursor(west):
    alerts = [make_alert(west[0], deadline=NOW + timedelta(minutes=m)) for m in range(6)]
    first = queue_page(fleet_wide(), QueueFilters(), limit=3)
    make_alert(west[1], severity="CRITICAL")  # sorts before everything already seen
    second = queue_page(fleet_wide(), QueueFilters(), cursor=first.next_cursor, limit=3)
    assert ids(first) + ids(second) == [str(a.pk) for a in alerts]


def test_a_page_can_end_on_a_storm(west):
    storm, _ = _storm(west, 2, site_id=west[0].site_id)
    after = make_alert(west[1], severity="CRITICAL", deadline=NOW + timedelta(minutes=20))
    first = queue_page(fleet_wide(), QueueFilters(), limit=1)
    assert first.rows[0]["kind"] == "storm"
    second = queue_page(fleet_wide(), QueueFilters(), cursor=first.next_cursor, limit=5)
    assert ids(second) == [str(after.pk)]


@pytest.mark.parametrize("cursor", ["garbage", "WzQsICJub3QgYSBkYXRlIiwgMSwgIngiXQ", "e30"])
def test_a_cursor_not_made_by_the_queue_is_refused(db, cursor):
    with pytest.raises(InvalidCursor):
        queue_page(fleet_wide(), QueueFilters(), cursor=cursor)


def test_cursor_round_trip():
    position = Position(3, NOW, 1, "0b6c1f6e-2f5e-4a53-9d5f-3f0c5b8d2a10")
    assert Position.decode(position.encode()) == position


# ---------------------------------------------------------------- scope


def test_an_operator_sees_only_alerts_of_their_regions_and_sites(west, east):
    mine = make_alert(west[0])
    other = make_alert(east[0])
    west_operator = Profile(role="operator", regions=["US-W"])
    assert ids(queue_page(west_operator, QueueFilters())) == [str(mine.pk)]
    # Asking for the other region by filter does not widen the scope.
    assert queue_page(west_operator, QueueFilters(region=("US-E",))).rows == []
    site_operator = Profile(role="operator", sites=[east[0].site_id])
    assert ids(queue_page(site_operator, QueueFilters())) == [str(other.pk)]
    assert queue_alerts(west_operator, QueueFilters(q=east[0].device_id)).count() == 0
