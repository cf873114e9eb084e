"""The streaming worker: readings stream -> rule engine -> alerts, acknowledged after commit.

Several workers may run (`manage.py run_streaming_rules`), each on its own partitions (a
partition's device states live in one worker; a second worker on the same partitions is a
standby that claims what a dead one left). A Redis consumer group hands each message to one
of them. A message is acknowledged only after the alerts it raised are committed, and the
device's progress mark with them (fleetmon.streams). A worker that dies leaves its
messages pending; on restart it reads its own pending messages first, and another worker
claims them after `claim_idle_ms`. Alerts are keyed by rule and reading time, so processing
a message twice raises nothing twice.

Per-device state is rebuilt from the database the first time a worker sees a device: the
stored readings up to the device's progress mark are replayed silently (their alerts are
committed), and those after it, before the reading at hand, are evaluated for real (a worker
died before committing them, or they are still on their way). So a reading the rules never
evaluated is never taken as one they alerted on. The worker also relays the outbox of its
partitions to the stream (fleetmon.streams), and survives its dependencies: a Redis or
database error is logged and retried with backoff, and the device states it may have moved
past uncommitted readings are rebuilt.

One fault on one device is one visible alert while that alert is active: a later firing of
the same rule (a repeat, or a rise in severity) is stored suppressed and linked to it (D6),
and grows the active alert (`last_seen_at`, `occurrences`, one event per repeat). The worker
also records each device's last reading time for the site-offline check (alerts.site_offline).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import orjson
import redis
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from alerts.maintenance_windows import record_suppression, suppress_in_window
from alerts.models import ACTIVE_STATUSES, SEVERITY_RANK, AlertEvent, AlertType, DeviceAlert
from alerts.severity import SLA
from alerts.site_offline import last_seen_record
from alerts.storms import storm_check
from alerts.thresholds import effective_thresholds, thresholds_version
from fleetmon.registry.models import Device
from fleetmon.streams import (
    GROUP,
    client,
    outbox_pending,
    progress_of,
    progress_record,
    relay,
    stream_key,
)
from quality.selectors import device_history
from scoring.streaming import RULES, DeviceState, Firing, Reading, Thresholds, evaluate

logger = logging.getLogger(__name__)

RECHECK_FOR = timedelta(hours=24)  # D5: the next batch run reconciles it
# A device's baselines, rests and defrost interval are learned over a day of its readings.
HISTORY = timedelta(hours=24)
# Waits after a Redis or database error: doubling from the first to the last, with jitter.
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 2.0
TRANSIENT = (redis.RedisError, DatabaseError)


class StreamingWorker:
    def __init__(
        self,
        *,
        consumer: str,
        partitions: Iterable[int] | None = None,
        claim_idle_ms: int = 30_000,
        block_ms: int | None = 1000,
        count: int = 50,
    ) -> None:
        self.consumer = consumer
        self.partitions = list(partitions or range(settings.FLEETMON_STREAM_PARTITIONS))
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.count = count
        self.redis = client()
        self.states: dict[str, DeviceState] = {}
        # Per device, the last reading this worker evaluated (None: none since its mark).
        self.through: dict[str, datetime | None] = {}
        self.thresholds: dict[str, Thresholds] = {}
        self.version: int | None = None
        # Devices whose state may lack readings Redis lost: checked against the database.
        self.verify: set[str] = set()
        # Our own messages, delivered before a crash or an error and never acknowledged,
        # go before anything new.
        self.own_pending = True
        self.groups_ready = False
        self.stopped = threading.Event()
        try:
            self.ensure_groups()
        except redis.RedisError as exc:
            logger.warning("streaming worker %s: no Redis yet (%s)", consumer, exc)

    def ensure_groups(self) -> None:
        for partition in self.partitions:
            try:
                self.redis.xgroup_create(stream_key(partition), GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self.groups_ready = True

    # ------------------------------------------------------------ the loop

    def run(self, *, stop_after: float | None = None) -> None:
        """Process until stopped (or for `stop_after` seconds); outlive Redis and database
        outages, retrying with backoff."""
        deadline = None if stop_after is None else time.monotonic() + stop_after
        wait = BACKOFF_FIRST
        while not self.stopped.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                self.step()
            except TRANSIENT as exc:
                self.recover(exc)
                logger.warning(
                    "streaming worker %s: %s: %s; retrying in %.1f s",
                    self.consumer,
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                    wait,
                )
                self.stopped.wait(wait * random.uniform(0.8, 1.2))
                wait = min(wait * 2, BACKOFF_MAX)
            else:
                wait = BACKOFF_FIRST

    def stop(self) -> None:
        """Finish the message at hand and leave `run` (a signal handler may call this)."""
        self.stopped.set()

    def recover(self, exc: Exception) -> None:
        """Make the next step start clean after a failed one."""
        self.own_pending = True
        if isinstance(exc, DatabaseError):
            # A dropped connection stays dropped: give it back; the pool tests the next one.
            connection.close()
        elif isinstance(exc, redis.ResponseError) and "NOGROUP" in str(exc):
            # Redis came back empty: the groups are gone, and what the stream held with
            # them. The states are rebuilt from the database, where every reading is.
            self.groups_ready = False
            self.forget(set(self.states))
        else:
            self.verify |= set(self.states)

    def step(self) -> int:
        """Relay the outbox, take our own and dead consumers' pending messages, then new
        ones; return how many messages were processed."""
        if not self.groups_ready:
            self.ensure_groups()
        self._refresh_thresholds_if_changed()
        self.relay()
        done = 0
        if self.own_pending:
            done += self._read("0", block=None)
            self.own_pending = done > 0
            if done:
                return done
        for partition in self.partitions:
            key = stream_key(partition)
            _, claimed, _ = self.redis.xautoclaim(
                key, GROUP, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0"
            )
            if claimed:
                done += self.handle(key, claimed)
        return done + self._read(">", block=self.block_ms)

    def _read(self, start: str, *, block: int | None) -> int:
        """Read and handle messages from `start` ("0": our pending ones, ">": new ones)."""
        streams = {stream_key(p): start for p in self.partitions}
        done = 0
        for key, messages in (
            self.redis.xreadgroup(GROUP, self.consumer, streams, count=self.count, block=block)
            or []
        ):
            if messages:
                done += self.handle(key.decode() if isinstance(key, bytes) else key, messages)
        return done

    def relay(self) -> int:
        """Relay what ingest could not (Redis was down at its commit); return messages."""
        sent = 0
        while outbox_pending(partitions=self.partitions):
            relayed = relay(partitions=self.partitions, wait=False)
            if not relayed:
                break  # another relay holds the partitions that are left
            sent += relayed
        if sent:
            logger.info("streaming worker %s relayed %d outbox messages", self.consumer, sent)
        return sent

    def handle(self, key: str, messages: list) -> int:
        """Evaluate the readings of some of a partition's messages, commit their alerts and
        the devices' progress, then acknowledge the messages; return how many.

        A backlog (after an outage) goes through in reads of `count` messages, each with a
        handful of round trips, not a handful per message.
        """
        readings: list[Reading] = []
        for _, fields in messages:
            if fields:
                readings += [_reading(r) for r in orjson.loads(fields[b"readings"])]
            else:
                # Pending, but trimmed from the stream meanwhile: its readings are in the
                # database, where the states that might lack them look.
                self.verify |= set(self.states)
        devices = {r.device_id for r in readings}
        try:
            firings = self.evaluate(readings)
            alerts_from_firings(firings)
            progress_record(through=self._evaluated_through(devices))
        except BaseException:
            # The states moved past readings whose alerts may not be committed: rebuild them
            # from what the database says was evaluated when the messages come again.
            self.forget(devices)
            raise
        with self.redis.pipeline(transaction=False) as pipe:
            last_seen_record(readings=readings, pipe=pipe)
            pipe.xack(key, GROUP, *[message_id for message_id, _ in messages])
            pipe.execute()
        return len(messages)

    def evaluate(self, readings: list[Reading]) -> list[Firing]:
        readings.sort(key=lambda r: (r.device_id, r.timestamp))
        first: dict[str, datetime] = {}
        for reading in readings:
            first.setdefault(reading.device_id, reading.timestamp)
        marks = progress_of(device_ids=first)
        # Another worker evaluated further (a standby took over for a while): our state
        # lacks what it saw.
        self.forget(
            {
                d
                for d, mark in marks.items()
                if d in self.states and (self.through.get(d) is None or mark > self.through[d])
            }
        )
        firings = self._load({d: t for d, t in first.items() if d not in self.states}, marks)
        firings += self._verify({d: t for d, t in first.items() if d in self.verify})
        for reading in readings:
            thresholds = self.thresholds.get(reading.device_id)
            if thresholds is None:
                continue  # not in the registry (a quarantined reading never gets here)
            firings += self._evaluate(reading, thresholds)
        return firings

    def _evaluate(self, reading: Reading, thresholds: Thresholds) -> list[Firing]:
        fired = evaluate(self.states[reading.device_id], reading, thresholds)
        through = self.through.get(reading.device_id)
        if through is None or reading.timestamp > through:
            self.through[reading.device_id] = reading.timestamp
        return fired

    def _evaluated_through(self, devices: set[str]) -> dict[str, datetime]:
        return {
            d: self.through[d]
            for d in devices
            if self.through.get(d) is not None and d in self.thresholds
        }

    def forget(self, devices: set[str]) -> None:
        for device_id in devices:
            self.states.pop(device_id, None)
            self.through.pop(device_id, None)
            self.verify.discard(device_id)

    # ------------------------------------------------------------ state and thresholds

    def _load(self, first: dict[str, datetime], marks: dict[str, datetime]) -> list[Firing]:
        """Rebuild the state of devices seen for the first time, from the database; return
        the firings of stored readings the rules had not evaluated.

        1. Replay, without alerting, the day of stored readings up to the device's progress
           mark: their alerts are committed.
        2. Evaluate the stored readings after the mark and before the reading at hand (all
           of them for a device with no mark: none was ever evaluated). An alert already
           stored for one of them is not stored twice (alerts are keyed by reading time).
        """
        if not first:
            return []
        found = effective_thresholds(device_ids=list(first))
        for device_id, (thresholds, _) in found.items():
            self.thresholds[device_id] = thresholds
        firings: list[Firing] = []
        for device_id, before in first.items():
            thresholds = self.thresholds.get(device_id, Thresholds())
            mark = marks.get(device_id)
            # Up to the mark when it is past the reading at hand (a message coming again).
            until = before if mark is None or mark < before else mark + timedelta(microseconds=1)
            since = min(before, mark or before) - HISTORY
            stored = [
                _reading(r) for r in device_history(device_id=device_id, since=since, until=until)
            ]
            judged = [r for r in stored if mark is not None and r.timestamp <= mark]
            self.states[device_id] = DeviceState.from_history(
                judged, thresholds, device_id=device_id
            )
            self.through[device_id] = mark
            if device_id in found:
                for reading in stored[len(judged) :]:
                    firings += self._evaluate(reading, thresholds)
        return firings

    def _verify(self, first: dict[str, datetime]) -> list[Firing]:
        """Evaluate stored readings between a state's last reading and the reading at hand
        (Redis may have lost their message in an outage)."""
        firings: list[Firing] = []
        for device_id, before in first.items():
            self.verify.discard(device_id)
            through, thresholds = self.through.get(device_id), self.thresholds.get(device_id)
            if through is None or thresholds is None or before <= through:
                continue
            stored = device_history(
                device_id=device_id, since=through + timedelta(microseconds=1), until=before
            )
            for reading in stored:
                firings += self._evaluate(_reading(reading), thresholds)
        return firings

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
        if device is None or device.is_out_of_service(now):
            continue  # unknown, or out of service: it raises nothing
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
        window = suppress_in_window(alert, device, firing.at)
        alert.save(force_insert=True)
        storm = storm_check(alert=alert) if window is None else None
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
        if window is not None:
            record_suppression(alert, window, now)
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
