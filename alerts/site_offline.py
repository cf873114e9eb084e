"""Site offline (issue 11): every device of a site silent together is one HIGH incident.

Silence is the absence of readings, so no reading can raise it: a periodic check does
(`site_offline_check_task` every minute, or a replay harness calling `site_offline_check`
with its own `now`). The streaming workers keep each device's last reading time in one
Redis sorted set (one member per device, so it is bounded by the fleet); the check reads
only the devices that fell silent recently, and the open incidents from the database.

Operators see an incident as one HIGH streaming alert (`site_offline`) on the site's first
silent device, with every silent device named in it: in the queue, on the site page and in
notifications like any alert. It is resolved when the site reports again. The devices' own
restart pull-downs do not alarm: the streaming state waits `restart_minutes` after a
silence (scoring.streaming.context).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from alerts.models import (
    ACTIVE_STATUSES,
    AlertEvent,
    AlertStatus,
    AlertType,
    DeviceAlert,
    SiteOfflineIncident,
)
from alerts.severity import SLA
from fleetmon.registry.models import Device, Site
from fleetmon.streams import client
from scoring.streaming import Reading

logger = logging.getLogger(__name__)

RULE = "site_offline"
LAST_SEEN_KEY = "fleetmon:streaming:last_seen"
# More devices silent at once than this is a fleet-wide event (or a stalled pipeline),
# which the pipeline monitors own; the check leaves it to them.
SILENT_CAP = 10_000
# A device silent this long is forgotten (decommissioned, or long gone).
FORGET_AFTER = timedelta(days=7)


def last_seen_record(*, readings: Iterable[Reading], pipe) -> None:
    """Queue on `pipe` each device's latest reading time (never moving one backwards)."""
    latest: dict[str, float] = {}
    for reading in readings:
        ts = reading.timestamp.timestamp()
        if ts > latest.get(reading.device_id, 0.0):
            latest[reading.device_id] = ts
    if latest:
        pipe.zadd(LAST_SEEN_KEY, latest, gt=True)


def site_offline_check(*, now: datetime) -> dict[str, int]:
    """Close the incidents of sites that report again, then open one per newly silent site.

    1. An open incident closes when any of its devices reported after the silence began.
    2. Nothing is opened while no device anywhere reported within the silence: that is a
       stalled pipeline (or a replay between two days), not a site.
    3. A site is offline when each of its devices that reported in the lookback has been
       silent for the silence, at least the minimum number of them together (their last
       readings within the together window of each other). Devices silent long before
       the others are left out: their silence is their own.
    """
    redis = client()
    stamp = now.timestamp()
    silence = settings.FLEETMON_SITE_OFFLINE_SILENCE_MINUTES * 60
    lookback = settings.FLEETMON_SITE_OFFLINE_LOOKBACK_HOURS * 3600
    redis.zremrangebyscore(LAST_SEEN_KEY, "-inf", stamp - FORGET_AFTER.total_seconds())
    closed = _close_returned(redis, now)
    freshest = redis.zrevrange(LAST_SEEN_KEY, 0, 0, withscores=True)
    if not freshest or freshest[0][1] < stamp - silence:
        return {"opened": 0, "closed": closed}
    silent = redis.zrangebyscore(
        LAST_SEEN_KEY, stamp - lookback, stamp - silence, start=0, num=SILENT_CAP + 1
    )
    if len(silent) > SILENT_CAP:
        logger.warning("site offline check: over %d devices silent, left to monitors", SILENT_CAP)
        return {"opened": 0, "closed": closed}
    ids = [d.decode() if isinstance(d, bytes) else d for d in silent]
    sites = set(Device.objects.filter(pk__in=ids, is_active=True).values_list("site_id", flat=True))
    sites -= set(
        SiteOfflineIncident.objects.filter(site_id__in=sites, closed_at__isnull=True).values_list(
            "site_id", flat=True
        )
    )
    members: dict[str, list[str]] = defaultdict(list)
    for device_id, site_id in Device.objects.filter(site_id__in=sites, is_active=True).values_list(
        "pk", "site_id"
    ):
        members[site_id].append(device_id)
    opened = 0
    for site_id, devices in sorted(members.items()):
        scores = dict(zip(devices, redis.zmscore(LAST_SEEN_KEY, devices), strict=True))
        seen = {d: s for d, s in scores.items() if s is not None and s >= stamp - lookback}
        if not seen or max(seen.values()) > stamp - silence:
            continue  # somebody at the site still reports
        last = max(seen.values())
        together = settings.FLEETMON_SITE_OFFLINE_TOGETHER_MINUTES * 60
        gone = sorted(d for d, s in seen.items() if s >= last - together)
        if len(gone) >= settings.FLEETMON_SITE_OFFLINE_MIN_DEVICES:
            opened += _open(site_id, gone, datetime.fromtimestamp(last, UTC), now)
    if opened or closed:
        logger.info("site offline check at %s: %d opened, %d closed", now, opened, closed)
    return {"opened": opened, "closed": closed}


def _open(site_id: str, devices: list[str], silent_since: datetime, now: datetime) -> int:
    """Open the site's incident and its HIGH alert; 0 when another check just did."""
    site = Site.objects.get(pk=site_id)
    anchor = Device.objects.get(pk=devices[0])
    listed = ", ".join(devices)
    title = (
        f"Site offline: {len(devices)} devices at {site.site_name} silent since "
        f"{silent_since:%H:%M} UTC"
    )
    description = (
        f"Every device of {site.site_name} ({site_id}) that was reporting went silent together "
        f"at {silent_since:%Y-%m-%d %H:%M} UTC and none has reported for "
        f"{(now - silent_since).total_seconds() / 60:.0f} min: a power loss or a cut "
        f"connection at the site, not {len(devices)} separate faults. Silent devices: "
        f"{listed}. High severity: acknowledge within 120 minutes."
    )
    try:
        with transaction.atomic():
            alert = DeviceAlert.objects.create(
                device=anchor,
                site_id=site_id,
                region=site.region,
                alert_type=AlertType.DETECTED,
                severity="HIGH",
                source=DeviceAlert.Source.STREAMING,
                title=title[:200],
                description=description,
                model_id=RULE,
                models_flagging=[RULE],
                top_contributors=devices,
                contributor_scores=[],
                dedup_key=f"{site_id}|{RULE}|site",
                first_detected_at=now,
                alert_created_at=now,
                last_seen_at=now,
                sla_deadline=now + SLA["HIGH"],
                recheck_until=None,  # silence is not a score: batch runs leave it alone
            )
            SiteOfflineIncident.objects.create(
                site_id=site_id,
                region=site.region,
                silent_since=silent_since,
                opened_at=now,
                device_ids=devices,
                alert=alert,
            )
            AlertEvent.objects.create(
                alert=alert,
                kind="created",
                actor="streaming",
                at=now,
                note=f"{len(devices)} devices silent since {silent_since:%H:%M} UTC: {listed}",
                details={
                    "rule": RULE,
                    "site_id": site_id,
                    "devices": devices,
                    "silent_since": silent_since.isoformat(),
                },
            )
    except IntegrityError:
        logger.info("site %s: offline incident already open", site_id)
        return 0
    return 1


def _close_returned(redis, now: datetime) -> int:
    """Close open incidents whose site reports again; resolve their alerts."""
    closed = 0
    for incident in SiteOfflineIncident.objects.filter(closed_at__isnull=True):
        scores = redis.zmscore(LAST_SEEN_KEY, incident.device_ids)
        since = incident.silent_since.timestamp()
        back = [d for d, s in zip(incident.device_ids, scores, strict=True) if s and s > since]
        if not back:
            continue
        with transaction.atomic():
            locked = SiteOfflineIncident.objects.select_for_update().get(pk=incident.pk)
            if locked.closed_at is not None:
                continue
            locked.closed_at = now
            locked.save(update_fields=["closed_at"])
            _resolve(locked, back, now)
        closed += 1
    return closed


def _resolve(incident: SiteOfflineIncident, back: list[str], now: datetime) -> None:
    if incident.alert_id is None:
        return
    alert = DeviceAlert.objects.select_for_update().get(pk=incident.alert_id)
    minutes = (now - incident.silent_since).total_seconds() / 60
    still = sorted(set(incident.device_ids) - set(back))
    note = f"Site reporting again after {minutes:.0f} min: {len(back)} of "
    note += f"{len(incident.device_ids)} devices back"
    if still:
        note += f"; still silent: {', '.join(still)}"
    alert.last_seen_at = now
    fields, kind = ["last_seen_at"], "site_back"
    if alert.status in ACTIVE_STATUSES:  # an operator may have closed it already
        alert.status, alert.alert_type, alert.resolved_at = (
            AlertStatus.RESOLVED,
            AlertType.RESOLVED,
            now,
        )
        fields, kind = [*fields, "status", "alert_type", "resolved_at"], "resolved"
    alert.save(update_fields=fields)
    AlertEvent.objects.create(
        alert=alert,
        kind=kind,
        actor="streaming",
        at=now,
        note=note,
        details={"rule": RULE, "back": back, "still_silent": still},
    )
