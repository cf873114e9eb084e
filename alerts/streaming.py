"""The streaming worker: readings stream -> rule engine -> alerts, acknowledged after commit.

Several workers may run (`manage.py run_streaming_rules`); a Redis consumer group hands
each message to one of them. A message is acknowledged only after the alerts it raised are
committed. A worker that dies leaves its messages pending; another claims them after
`claim_idle_ms` and processes them again. Alerts are keyed by rule and reading time, so
processing a message twice raises nothing twice. Per-device state is rebuilt from the
database the first time a worker sees a device, from the readings before the one at hand.

One fault on one device is one visible alert while that alert is active: a later firing of
the same rule (a repeat, or a rise in severity) is stored suppressed and linked to it (D6),
and grows the active alert (`last_seen_at`, `occurrences`, one event per repeat). The worker
also records each device's last reading time for the site-offline check (alerts.site_offline).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import orjson
import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.models import ACTIVE_STATUSES, SEVERITY_RANK, AlertEvent, AlertType, DeviceAlert
from alerts.severity import SLA
from alerts.site_offline import last_seen_record
from alerts.storms import storm_check
from alerts.thresholds import effective_thresholds, thresholds_version
from fleetmon.registry.models import Device
from fleetmon.streams import GROUP, client, stream_key
from quality.selectors import device_history
from scoring.streaming import RULES, DeviceState, Firing, Reading, Thresholds, evaluate

logger = logging.getLogger(__name__)

RECHECK_FOR = timedelta(hours=24)  # D5: the next batch run reconciles it
# A device's baselines, rests and defrost interval are learned over a day of its readings.
HISTORY = timedelta(hours=24)


class StreamingWorker:
    def __init__(
        self,
        *,
        consumer: str,
        partitions: Iterable[int] | None = None,
        claim_idle_ms: int = 30_000,
        block_ms: int = 1000,
        count: int = 50,
    ) -> None:
        self.consumer = consumer
        self.partitions = list(partitions or range(settings.FLEETMON_STREAM_PARTITIONS))
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.count = count
        self.redis = client()
        self.states: dict[str, DeviceState] = {}
        self.thresholds: dict[str, Thresholds] = {}
        self.version: int | None = None
        self.ensure_groups()

    def ensure_groups(self) -> None:
        for partition in self.partitions:
            try:
                self.redis.xgroup_create(stream_key(partition), GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # ------------------------------------------------------------ the loop

    def run(self, *, stop_after: float | None = None) -> None:
        """Process until stopped (or for `stop_after` seconds)."""
        deadline = None if stop_after is None else time.monotonic() + stop_after
        while deadline is None or time.monotonic() < deadline:
            self.step()

    def step(self) -> int:
        """Claim what dead consumers left pending, then read new messages; return processed."""
        self._refresh_thresholds_if_changed()
        done = 0
        for partition in self.partitions:
            key = stream_key(partition)
            _, claimed, _ = self.redis.xautoclaim(
                key, GROUP, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0"
            )
            for message_id, fields in claimed:
                done += self.handle(key, message_id, fields)
        streams = {stream_key(p): ">" for p in self.partitions}
        for key, messages in (
            self.redis.xreadgroup(
                GROUP, self.consumer, streams, count=self.count, block=self.block_ms
            )
            or []
        ):
            for message_id, fields in messages:
                done += self.handle(
                    key.decode() if isinstance(key, bytes) else key, message_id, fields
                )
        return done

    def handle(self, key: str, message_id, fields) -> int:
        """Evaluate a message's readings, commit their alerts, then acknowledge it."""
        readings = [_reading(r) for r in orjson.loads(fields[b"readings"])]
        firings = self.evaluate(readings)
        alerts_from_firings(firings)
        with self.redis.pipeline(transaction=False) as pipe:
            last_seen_record(readings=readings, pipe=pipe)
            pipe.xack(key, GROUP, message_id)
            pipe.execute()
        return 1

    def evaluate(self, readings: list[Reading]) -> list[Firing]:
        readings.sort(key=lambda r: (r.device_id, r.timestamp))
        unknown = [r for r in readings if r.device_id not in self.states]
        self._load(unknown)
        firings: list[Firing] = []
        for reading in readings:
            thresholds = self.thresholds.get(reading.device_id)
            if thresholds is None:
                continue  # not in the registry (a quarantined reading never gets here)
            firings += evaluate(self.states[reading.device_id], reading, thresholds)
        return firings

    # ------------------------------------------------------------ state and thresholds

    def _load(self, first_readings: list[Reading]) -> None:
        """Rebuild the state of devices seen for the first time, from the database."""
        earliest: dict[str, datetime] = {}
        for reading in first_readings:
            earliest.setdefault(reading.device_id, reading.timestamp)
        if not earliest:
            return
        found = effective_thresholds(device_ids=list(earliest))
        for device_id, (thresholds, _) in found.items():
            self.thresholds[device_id] = thresholds
        for device_id, before in earliest.items():
            thresholds = self.thresholds.get(device_id, Thresholds())
            history = device_history(device_id=device_id, since=before - HISTORY, until=before)
            self.states[device_id] = DeviceState.from_history(
                (_reading(r) for r in history), thresholds, device_id=device_id
            )

    def _refresh_thresholds_if_changed(self) -> None:
        version = thresholds_version()
        if version != self.version and self.thresholds:
            found = effective_thresholds(device_ids=list(self.thresholds))
            self.thresholds.update({d: t for d, (t, _) in found.items()})
        self.version = version


def _reading(payload: dict) -> Reading:
    stamp = payload["timestamp"]
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return Reading(device_id=payload["device_id"], timestamp=stamp, values=payload["values"])


# ---------------------------------------------------------------- alerts


def alerts_from_firings(firings: list[Firing], *, now: datetime | None = None) -> int:
    """Store firings as alerts (D4 severities, D6 dedup); return how many were new."""
    if not firings:
        return 0
    now = now or timezone.now()
    devices = Device.objects.in_bulk({f.device_id for f in firings})
    created = 0
    for firing in firings:
        device = devices.get(firing.device_id)
        if device is None:
            continue
        try:
            with transaction.atomic():
                created += _store(firing, device, now)
        except IntegrityError:
            # Already stored by a worker that died before acknowledging the message.
            logger.info(
                "firing %s %s at %s already stored", firing.rule, firing.device_id, firing.at
            )
    return created


def _store(firing: Firing, device: Device, now: datetime) -> int:
    """Store one firing: a new alert, or a repeat merged into the active one (D6)."""
    key = f"{firing.device_id}|{firing.rule}|{firing.sensor}"
    active = (
        DeviceAlert.objects.select_for_update()
        .filter(dedup_key=key, suppressed=False, status__in=ACTIVE_STATUSES)
        .order_by("alert_created_at")
        .first()
    )
    alert = _new_alert(firing, device, key, now)
    details = {
        "rule": firing.rule,
        "severity": firing.severity,
        "value": firing.value,
        "threshold": firing.threshold,
        "evidence": [[t.isoformat(), v] for t, v in firing.evidence],
    }
    if active is None:
        alert.save(force_insert=True)
        storm = storm_check(alert=alert)
        if storm is not None:
            alert.storm = storm
        AlertEvent.objects.create(
            alert=alert,
            kind="created",
            actor="streaming",
            at=now,
            note=firing.message,
            details=details,
        )
        return 1
    # TRICKY: the suppressed row goes in first. A re-processed message fails here on the
    # unique (dedup_key, first_detected_at) and rolls back before the active alert grows.
    alert.suppressed, alert.suppressed_by = True, active
    alert.save(force_insert=True)
    _repeat(active, firing, alert, details, now)
    return 0


def _repeat(active: DeviceAlert, firing: Firing, row: DeviceAlert, details: dict, now) -> None:
    """Grow the active alert with a repeat; a higher severity escalates it (D5)."""
    active.last_seen_at = max(active.last_seen_at, firing.at)
    active.occurrences += 1
    fields = ["last_seen_at", "occurrences"]
    details = {**details, "occurrence": active.occurrences, "suppressed_alert": str(row.pk)}
    if SEVERITY_RANK[firing.severity] > SEVERITY_RANK[active.severity]:
        previous = active.severity
        active.severity = firing.severity
        active.alert_type = AlertType.ESCALATED
        active.sla_deadline = min(active.sla_deadline, now + SLA[firing.severity])
        fields += ["severity", "alert_type", "sla_deadline"]
        kind, note = "escalated", f"{previous} -> {firing.severity}: {firing.message}"
        details.update({"from": previous, "to": firing.severity})
    else:
        kind, note = "repeated", firing.message
    active.save(update_fields=fields)
    AlertEvent.objects.create(
        alert=active, kind=kind, actor="streaming", at=now, note=note, details=details
    )


def _new_alert(firing: Firing, device: Device, key: str, now: datetime) -> DeviceAlert:
    return DeviceAlert(
        device=device,
        site_id=device.site_id,
        region=device.region,
        alert_type=AlertType.DETECTED,
        severity=firing.severity,
        source=DeviceAlert.Source.STREAMING,
        title=f"{RULES[firing.rule].description} on device {device.device_id}"[:200],
        description=_describe(firing),
        model_id=firing.rule,
        models_flagging=[firing.rule],
        anomaly_score=None,
        top_contributors=[firing.sensor],
        contributor_scores=[float(firing.value)],
        dedup_key=key,
        first_detected_at=firing.at,
        alert_created_at=now,
        last_seen_at=firing.at,
        sla_deadline=now + SLA[firing.severity],
        recheck_until=now + RECHECK_FOR,
    )


def _describe(firing: Firing) -> str:
    evidence = ", ".join(f"{t:%H:%M:%S} {v:g}" for t, v in firing.evidence[-6:])
    minutes = int(SLA[firing.severity].total_seconds() // 60)
    return (
        f"{firing.message}. Readings that fired it: {evidence}. "
        f"{firing.severity.capitalize()} severity: acknowledge within {minutes} minutes."
    )
