"""The triage queue (issue 5, item 2): the alerts a user may see, most urgent first.

Order: severity (CRITICAL first), then SLA deadline, then alert id (a total order, so a
page boundary never skips or repeats a row). Alerts of a storm collapse into one storm
row, placed where its most urgent member would be.

Paging is keyset ("seek"), never OFFSET: a cursor holds the position of the last row and
the next page starts strictly after it. The severity rank is not a column, so one
`ORDER BY rank` would sort every matching row. Instead the query is a UNION ALL of one
branch per (severity, status), each of which the `alert_queue` index (status, severity,
sla_deadline) returns already sorted, each limited to one page; only those few rows are
merged and sorted. Page 1 and page 20,000 cost the same.

A text search walks the same branches: a common word fills a page within a few index
entries; for a rare one the planner can switch each branch to a trigram index on the
title (proposed in bench/bench_queue.py), else it scans.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.utils import timezone

from alerts.models import ACTIVE_STATUSES, SEVERITY_RANK, StormIncident
from fleetmon.accounts.models import Profile
from fleetmon.accounts.scopes import scoped_alerts

SEVERITIES_BY_URGENCY = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
WINDOWS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# The filters a user may set (query parameters, saved views). `storm` and `alert_id` are
# navigation (expand one storm, fetch one row for a live update), not saved.
FILTER_NAMES = (
    "severity",
    "status",
    "site",
    "region",
    "alert_type",
    "source",
    "model_id",
    "window",
    "created_after",
    "created_before",
    "q",
    "include_suppressed",
    "shelved",
)
ALERT_FIELDS = (
    "alert_id",
    "device_id",
    "site_id",
    "region",
    "severity",
    "status",
    "alert_type",
    "source",
    "model_id",
    "title",
    "anomaly_score",
    "alert_created_at",
    "first_detected_at",
    "sla_deadline",
    "sla_breached",
    "escalation_level",
    "storm_id",
    "shelved_until",
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Sites matching a search are passed as a list of ids (an index condition) up to this many.
SITE_HITS = 1000

# Storms sort before alerts with the same severity and deadline.
STORM, ALERT = 0, 1


@dataclass(frozen=True)
class QueueFilters:
    """Validated filters; empty means "any" (status: the active ones)."""

    severity: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    alert_type: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    model_id: tuple[str, ...] = ()
    window: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str = ""
    include_suppressed: bool = False
    shelved: bool = False  # the "Shelved" view: only shelved alerts, instead of none
    storm: int | None = None
    alert_id: UUID | None = None

    @property
    def statuses(self) -> tuple[str, ...]:
        return self.status or tuple(ACTIVE_STATUSES)

    @property
    def collapses_storms(self) -> bool:
        return self.storm is None and self.alert_id is None


class InvalidCursor(ValueError):
    """The cursor was not made by this module (or was tampered with)."""


@dataclass(frozen=True)
class Position:
    """Where a row sits in the queue order."""

    rank: int
    deadline: datetime
    kind: int  # STORM or ALERT
    key: str  # the alert id, or the zero-padded storm id

    def sort_key(self) -> tuple:
        return (-self.rank, self.deadline, self.kind, self.key)

    def encode(self) -> str:
        raw = json.dumps([self.rank, self.deadline.isoformat(), self.kind, self.key])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            rank, deadline, kind, key = json.loads(raw)
            position = cls(int(rank), datetime.fromisoformat(deadline), int(kind), str(key))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise InvalidCursor("not a cursor of this queue; start from the first page") from exc
        if position.kind == ALERT:
            try:
                UUID(position.key)
            except ValueError as exc:
                raise InvalidCursor("not a cursor of this queue") from exc
        if position.rank not in SEVERITY_RANK.values() or position.deadline.tzinfo is None:
            raise InvalidCursor("not a cursor of this queue")
        return position


@dataclass
class QueuePage:
    rows: list[dict]  # {"kind": "alert", ...ALERT_FIELDS, site_name} or {"kind": "storm", ...}
    next_cursor: str | None = None


def severity_rank() -> Case:
    """The severity as a number (CRITICAL 4 .. LOW 1), for SQL ordering and aggregates."""
    return Case(
        *(When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def queue_alerts(profile: Profile, filters: QueueFilters, *, now: datetime | None = None):
    """Every alert in the user's scope that matches `filters` (storm members included)."""
    now = now or timezone.now()
    alerts = scoped_alerts(profile).filter(status__in=filters.statuses)
    # A shelf past its time counts as gone before the sweep records it (alerts.shelving).
    on_shelf = Q(shelved_until__gt=now)
    alerts = alerts.filter(on_shelf) if filters.shelved else alerts.exclude(on_shelf)
    if not filters.include_suppressed:
        alerts = alerts.filter(suppressed=False)
    if filters.severity:
        alerts = alerts.filter(severity__in=filters.severity)
    if filters.site:
        alerts = alerts.filter(site_id__in=filters.site)
    if filters.region:
        alerts = alerts.filter(region__in=filters.region)
    if filters.alert_type:
        alerts = alerts.filter(alert_type__in=filters.alert_type)
    if filters.source:
        alerts = alerts.filter(source__in=filters.source)
    if filters.model_id:
        alerts = alerts.filter(_model_filter(filters.model_id))
    if filters.window:
        alerts = alerts.filter(alert_created_at__gte=now - WINDOWS[filters.window])
    if filters.created_after:
        alerts = alerts.filter(alert_created_at__gte=filters.created_after)
    if filters.created_before:
        alerts = alerts.filter(alert_created_at__lt=filters.created_before)
    if filters.q:
        alerts = alerts.filter(_search(filters.q))
    if filters.storm is not None:
        alerts = alerts.filter(storm_id=filters.storm)
    if filters.alert_id is not None:
        alerts = alerts.filter(alert_id=filters.alert_id)
    return alerts


def queue_export(profile: Profile, filters: QueueFilters, *, now: datetime | None = None):
    """The rows of the CSV export: every matching alert, in queue order."""
    return (
        queue_alerts(profile, filters, now=now)
        .order_by(severity_rank().desc(), "sla_deadline", "alert_id")
        .values(*ALERT_FIELDS, site_name=F("site__site_name"))
    )


def queue_page(
    profile: Profile,
    filters: QueueFilters,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the queue after `cursor` (the first page without one)."""
    after = Position.decode(cursor) if cursor else None
    limit = max(1, min(limit, MAX_LIMIT))
    now = now or timezone.now()
    base = queue_alerts(profile, filters, now=now)
    storms = _storm_rows(base, after) if filters.collapses_storms else []
    singles = base.filter(storm__isnull=True) if filters.collapses_storms else base
    alerts = [
        ({"kind": "alert", **_in_service_now(row, now)}, _alert_position(row))
        for row in _seek(singles, filters, after, limit + 1)
    ]
    merged = sorted(alerts + storms, key=lambda item: item[1].sort_key())[: limit + 1]
    page = merged[:limit]
    more = len(merged) > limit
    return QueuePage(
        rows=[row for row, _ in page],
        next_cursor=page[-1][1].encode() if more else None,
    )


def _seek(alerts: QuerySet, filters: QueueFilters, after: Position | None, count: int) -> list:
    """The first `count` alerts after `after`: one index-ordered branch per severity and
    status, each cut at `count`, merged."""
    severities = [s for s in SEVERITIES_BY_URGENCY if not filters.severity or s in filters.severity]
    branches = []
    for severity in severities:
        rank = SEVERITY_RANK[severity]
        if after is not None and rank > after.rank:
            continue  # the whole severity lies before the cursor
        since = _after_in_rank(after) if after is not None and rank == after.rank else Q()
        for status in filters.statuses:
            branches.append(
                alerts.filter(since, severity=severity, status=status)
                .order_by("sla_deadline", "alert_id")
                .values(
                    *ALERT_FIELDS,
                    site_name=F("site__site_name"),
                    device_out_of_service_until=F("device__out_of_service_until"),
                    rank=Value(rank),
                )[:count]
            )
    if not branches:
        return []
    if len(branches) == 1:
        return list(branches[0])
    union = branches[0].union(*branches[1:], all=True)
    return list(union.order_by("-rank", "sla_deadline", "alert_id")[:count])


def _in_service_now(row: dict, now: datetime) -> dict:
    """A lapsed out-of-service period (not yet closed by its sweep) reads as none."""
    until = row.get("device_out_of_service_until")
    if until is not None and until <= now:
        row["device_out_of_service_until"] = None
    return row


def _after_in_rank(after: Position) -> Q:
    """Alerts of the cursor's severity that come after it. The leading `>=` is what the
    index can seek to; the rest breaks ties on the deadline."""
    at_or_after = Q(sla_deadline__gte=after.deadline)
    if after.kind == STORM:
        return at_or_after  # alerts follow a storm with the same deadline
    return at_or_after & (Q(sla_deadline__gt=after.deadline) | Q(alert_id__gt=after.key))


def _alert_position(row: dict) -> Position:
    return Position(
        SEVERITY_RANK[row["severity"]], row["sla_deadline"], ALERT, str(row["alert_id"])
    )


def _storm_rows(alerts: QuerySet, after: Position | None) -> list[tuple[dict, Position]]:
    """One row per storm with members among `alerts`, counting only those members."""
    groups = (
        alerts.filter(storm__isnull=False)
        .order_by()
        .values("storm_id")
        .annotate(
            members=Count("alert_id"),
            rank=Max(severity_rank()),
            first_deadline=Min("sla_deadline"),
            last_created=Max("alert_created_at"),
        )
    )
    by_storm = {g["storm_id"]: g for g in groups}
    if not by_storm:
        return []
    rows = []
    storms = StormIncident.objects.filter(pk__in=by_storm).select_related("site")
    for storm in storms:
        group = by_storm[storm.pk]
        position = Position(group["rank"], group["first_deadline"], STORM, f"{storm.pk:012d}")
        if after is not None and position.sort_key() <= after.sort_key():
            continue
        severity = next(s for s, r in SEVERITY_RANK.items() if r == group["rank"])
        rows.append(
            (
                {
                    "kind": "storm",
                    "storm_id": storm.pk,
                    "scope": storm.scope,
                    "site_id": storm.site_id,
                    "site_name": storm.site.site_name if storm.site else "",
                    "region": storm.region,
                    "severity": str(severity),
                    "alert_count": group["members"],
                    "total_alert_count": storm.alert_count,
                    "started_at": storm.started_at,
                    "last_alert_at": storm.last_alert_at,
                    "latest_member_created_at": group["last_created"],
                    "closed_at": storm.closed_at,
                    "sla_deadline": group["first_deadline"],
                    "title": storm_title(storm, group["members"]),
                    "runbook_url": f"/runbooks/{storm.runbook}/",
                },
                position,
            )
        )
    return rows


def storm_title(storm: StormIncident, members: int) -> str:
    where = f"at {storm.site.site_name}" if storm.site else "across the fleet"
    noun = "alert" if members == 1 else "alerts"
    return f"Alert storm: {members} {noun} {where}"


def _model_filter(model_ids: tuple[str, ...]) -> Q:
    """A model kind (isolation_forest) matches all its versions (isolation_forest_v3)."""
    match = Q()
    for model_id in model_ids:
        match |= Q(model_id=model_id) | Q(model_id__startswith=f"{model_id}_v")
    return match


def _search(text: str) -> Q:
    """Device id, site id, site name or title containing `text`, case-insensitive.

    A search that is exactly a device or site id (the common case: pasted from a ticket)
    becomes an equality the device/site indexes answer. Otherwise the title (which names
    the device: "... on device REF-...") or a site whose id or name contains it; sites are
    looked up first in their small table, so the alerts query gets a list of ids.
    """
    from fleetmon.registry.models import Device, Site

    text = text.strip()
    as_id = text.upper()
    if Device.objects.filter(pk=as_id).exists():
        return Q(device_id=as_id)
    if Site.objects.filter(pk=as_id).exists():
        return Q(site_id=as_id)
    sites = Site.objects.filter(Q(site_name__icontains=text) | Q(site_id__icontains=text))
    site_ids = sites.values_list("pk", flat=True)
    listed = list(site_ids[: SITE_HITS + 1])
    in_sites = Q(site_id__in=listed if len(listed) <= SITE_HITS else site_ids)
    return Q(title__icontains=text) | in_sites
