"""The replay harness: a labelled simulated fleet, run through the product's own path.

1. Lay out a fleet from a seed, plan faults inside the test period and harmless events over
   the whole of it; the physics simulator records each fault's failure point.
2. In a scratch world (monitoring.detection.scratch), load the history through the ingest
   contract as it was recorded, then train and deploy every model with the product's own
   bootstrap, as of the end of the history.
3. Replay the test period minute by minute on a simulated clock: readings go through ingest
   and the readings stream to a real streaming rules worker, and the detection jobs of the
   beat schedule (dropout, features, hourly and daily scoring, alert jobs) run at their
   scheduled minutes, eagerly, with score-to-alert and storms as in production.
4. Read back what an operator would have seen and score it (monitoring.detection.scorecard).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from celery.schedules import crontab
from django.conf import settings

from alerts.models import AlertEvent, DeviceAlert, SiteOfflineIncident, StormIncident
from alerts.streaming import StreamingWorker
from fleetmon.simulator.events import plan_events
from fleetmon.simulator.faults import FaultType, plan_faults
from fleetmon.simulator.fleet import FleetLayout, make_fleet
from fleetmon.simulator.generator import FleetGenerator
from fleetmon.simulator.services import fleet_register
from monitoring.detection.scorecard import (
    EventCase,
    FaultCase,
    Period,
    RaisedAlert,
    SiteIncident,
    scorecard,
)
from monitoring.detection.scratch import scratch_world
from quality.checks.readings import batch_from_frame
from quality.ingest import ingest_batch
from scoring.artifacts import artifact_load, artifact_save
from scoring.features import WINDOW_MINUTES
from scoring.models import ModelRole, ModelVersion
from scoring.services.bootstrap import BootstrapOutcome, models_bootstrap
from scoring.services.features import features_compute
from scoring.services.training import rules_fallback_ensure
from scoring.streaming.rules import Thresholds

logger = logging.getLogger(__name__)

# History starts on a fixed date so a seed always replays the same fleet and calendar.
DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)
# A reading stamped at minute m reaches ingest this much later: gateways post each minute's
# readings as they are taken (as `simulate_fleet live` does).
RECEIVE_DELAY = timedelta(seconds=5)
# The beat jobs that decide what alerts exist; monitoring jobs do not, and are skipped.
REPLAYED_TASKS = frozenset(
    {
        "quality.tasks.detect_dropout_task",
        "scoring.tasks.refresh_features_task",
        "scoring.tasks.scheduled_scoring_task",
    }
)
REPLAYED_TASK_PREFIXES = ("alerts.tasks.",)
# Escalation changes who is told, not what is detected.
SKIPPED_TASKS = frozenset({"alerts.tasks.auto_escalate_task"})
# Faults that act on a compressor that runs: they show only when it runs or should run.
SHOWN_WHILE_RUNNING = frozenset({"compressor_overload", "low_side_loss", "cooling_loss"})
# Every equipment fault; the data faults (dropouts) are the quality monitors' business.
EQUIPMENT_FAULTS = tuple(
    t.value for t in FaultType if t.value not in ("full_dropout", "intermittent_dropout")
)

Progress = Callable[[str, float, str], None]


@dataclass(frozen=True)
class ReplayConfig:
    """What to simulate and replay. Faults start inside the test period; the history is
    healthy apart from everyday harmless events."""

    devices: int = 200
    history_days: float = 10.0
    test_days: float = 3.0
    seed: int = 1
    fault_types: tuple[str, ...] = EQUIPMENT_FAULTS
    fault_fraction: float = 0.25
    start: datetime = DEFAULT_START
    keep: bool = False
    history_chunk: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        """Refuse a configuration that cannot be replayed, with a reason."""
        if self.devices < 4:
            raise ValueError("devices must be at least 4 (one site per region)")
        if self.history_days < 1 or self.test_days <= 0:
            raise ValueError("history_days must be >= 1 and test_days > 0")
        if not 0 <= self.fault_fraction <= 1:
            raise ValueError("fault_fraction must be between 0 and 1")
        unknown = set(self.fault_types) - {t.value for t in FaultType}
        if unknown:
            raise ValueError(f"unknown fault types: {', '.join(sorted(unknown))}")
        if self.start.tzinfo is None or self.start.second or self.start.microsecond:
            raise ValueError("start must be timezone-aware and on a whole minute")

    @property
    def test_start(self) -> datetime:
        return self.start + timedelta(days=self.history_days)

    @property
    def test_end(self) -> datetime:
        return self.test_start + timedelta(days=self.test_days)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["start"] = self.start.isoformat()
        out["history_chunk"] = self.history_chunk.total_seconds()
        out["fault_types"] = list(self.fault_types)
        return out


@dataclass
class ReplayResult:
    scorecard: dict[str, Any]
    model_versions: dict[str, dict[str, Any]]
    thresholds: dict[str, Any]
    bootstrap: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    scratch_database: str | None = None


def replay(
    config: ReplayConfig,
    *,
    deploy: Sequence[ModelVersion] = (),
    progress: Progress | None = None,
) -> ReplayResult:
    """Simulate, load, train and replay `config` in a scratch world; return its scorecard.

    With `deploy` (registered versions read from the live registry beforehand), those fitted
    models are put in production instead of training new ones: the D11 detection gate
    replays a candidate and production on the same fleet that way.
    """
    artifacts = [(v, artifact_load(path=v.artifact_path, sha256=v.artifact_sha256)) for v in deploy]
    report = progress or (lambda phase, done, note: None)
    timings: dict[str, float] = {}
    layout = make_fleet(config.devices, seed=config.seed)
    faults = plan_faults(
        layout,
        seed=config.seed,
        start=config.test_start,
        end=config.test_end,
        fraction=config.fault_fraction,
        types=list(config.fault_types),
    )
    events = plan_events(
        layout,
        seed=config.seed,
        start=config.start,
        end=config.test_end,
        rare_start=config.test_start,
    )
    generator = FleetGenerator(layout, faults, seed=config.seed, events=events, origin=config.start)
    with (
        scratch_world(keep=config.keep) as world,
        time_machine.travel(config.start, tick=False) as traveller,
    ):
        fleet_register(layout=layout)
        with _timed(timings, "history"):
            _load_history(generator, config, traveller, report)
        with _timed(timings, "training"):
            traveller.move_to(config.test_start)
            if artifacts:
                report("training", 0.0, "deploying the given model versions")
                outcomes = _deploy(artifacts, now=config.test_start, days=config.history_days)
            else:
                report("training", 0.0, "training every model kind on the history")
                outcomes = models_bootstrap(now=config.test_start, days=config.history_days)
        versions = _production_versions()
        with _timed(timings, "replay"):
            _replay_test_period(generator, config, traveller, report)
        with _timed(timings, "scoring"):
            card = scorecard(
                period=Period(
                    config.test_start,
                    config.test_end,
                    {d.device_id: d.region for d in layout.devices},
                ),
                faults=_fault_cases(
                    generator, faults, first_symptoms(layout, faults, events, config)
                ),
                events=[_event_case(e) for e in events if e.start >= config.test_start],
                alerts=raised_alerts(),
                incidents=site_incidents(),
            )
        database = world.database if config.keep else None
    return ReplayResult(
        scorecard=card,
        model_versions=versions,
        thresholds=dataclasses.asdict(Thresholds()),
        bootstrap=[dataclasses.asdict(o) for o in outcomes],
        timings=timings,
        scratch_database=database,
    )


# ---------------------------------------------------------------- phases


def _deploy(artifacts, *, now: datetime, days: float) -> list[BootstrapOutcome]:
    """Register fitted versions from elsewhere as production, with their artifacts; compute
    the features they score (bootstrap would have)."""
    for minutes in WINDOW_MINUTES:
        features_compute(minutes=minutes, start=now - timedelta(days=days), end=now)
    outcomes = []
    for version, payload in artifacts:
        path, digest = artifact_save(name=version.model_id, payload=payload)
        fields = {
            f.name: getattr(version, f.name)
            for f in ModelVersion._meta.concrete_fields
            if f.name not in ("id", "role", "artifact_path", "artifact_sha256", "validation")
        }
        ModelVersion.objects.create(
            **fields, role=ModelRole.PRODUCTION, artifact_path=path, artifact_sha256=digest
        )
        outcomes.append(
            BootstrapOutcome(
                kind=version.kind,
                outcome="deployed",
                model_id=version.model_id,
                training_rows=version.training_rows,
                reason="deployed from the live registry",
            )
        )
    rules_fallback_ensure()
    return outcomes


def _load_history(generator, config: ReplayConfig, traveller, report: Progress) -> None:
    """Ingest the healthy history chunk by chunk, each received at its end (off the stream:
    history is not news for the streaming rules)."""
    cursor, total = config.start, config.test_start - config.start
    while cursor < config.test_start:
        upto = min(cursor + config.history_chunk, config.test_start)
        frame = generator.frame(cursor, upto)
        traveller.move_to(upto)
        ingest_batch(batch=batch_from_frame(frame), received_at=upto, stream=False)
        cursor = upto
        report("history", (cursor - config.start) / total, f"{cursor:%Y-%m-%d %H:%M}")


def _replay_test_period(generator, config: ReplayConfig, traveller, report: Progress) -> None:
    """Minute by minute: the beat jobs due at that minute, then the minute's readings
    through ingest and the stream to the rules worker."""
    from fleetmon.celery import app

    # A management command's process has not imported the task modules yet.
    app.loader.import_default_modules()
    jobs = _replayed_jobs()
    # No blocking read: everything published is already in the stream when we ask.
    worker = StreamingWorker(consumer="replay", block_ms=None)
    minutes = round((config.test_end - config.test_start) / timedelta(minutes=1))
    for i in range(minutes):
        minute = config.test_start + timedelta(minutes=i)
        traveller.move_to(minute)
        for job in jobs:
            if job.due(minute):
                app.tasks[job.task].apply(args=job.args, kwargs=job.kwargs)
        frame = generator.frame(minute, minute + timedelta(minutes=1))
        traveller.move_to(minute + RECEIVE_DELAY)
        if len(frame):
            ingest_batch(batch=batch_from_frame(frame), received_at=minute + RECEIVE_DELAY)
        while worker.step():
            pass
        if minute.minute == 59:
            alerts = DeviceAlert.objects.filter(suppressed=False).count()
            report("replay", (i + 1) / minutes, f"{minute:%Y-%m-%d %H:%M} alerts={alerts}")


@dataclass(frozen=True)
class _Job:
    task: str
    args: tuple
    kwargs: dict
    schedule: Any

    def due(self, minute: datetime) -> bool:
        """Return whether beat would send this job at the start of `minute`."""
        s = self.schedule
        if isinstance(s, crontab):
            return (
                minute.minute in s.minute
                and minute.hour in s.hour
                and minute.isoweekday() % 7 in s.day_of_week
                and minute.day in s.day_of_month
                and minute.month in s.month_of_year
            )
        seconds = s.total_seconds() if isinstance(s, timedelta) else float(s)
        # Interval jobs shorter than a minute run once per simulated minute.
        return seconds <= 60 or (minute.timestamp() % seconds) < 60


def _replayed_jobs() -> list[_Job]:
    return [
        _Job(e["task"], tuple(e.get("args", ())), dict(e.get("kwargs", {})), e["schedule"])
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if (e["task"] in REPLAYED_TASKS or e["task"].startswith(REPLAYED_TASK_PREFIXES))
        and e["task"] not in SKIPPED_TASKS
    ]


# ---------------------------------------------------------------- reading back


def _production_versions() -> dict[str, dict[str, Any]]:
    return {
        v.kind: {
            "model_id": v.model_id,
            "version": v.version,
            "threshold": v.threshold,
            "params": v.params,
            "training_rows": v.training_rows,
            "window_minutes": v.window_minutes,
        }
        for v in ModelVersion.objects.filter(role=ModelRole.PRODUCTION).order_by("kind")
    }


def _fault_cases(generator, faults, symptoms) -> list[FaultCase]:
    failures = generator.failure_points()
    return [
        FaultCase(
            device_id=f.device_id,
            fault_type=str(f.fault_type),
            onset=f.start,
            end=f.end,
            failure_at=failures.get(f),
            symptom_at=symptoms.get(f),
        )
        for f in faults
    ]


def first_symptoms(layout, faults, events, config: ReplayConfig) -> dict:
    """When each compressor fault first showed: the first reading after its onset at which
    a healthy twin of the device (same seed, same events, no fault) runs its compressor. A
    dead or overloaded compressor, or a lost low side, cannot show while the compressor
    would be resting anyway. The twin simulates only the faulty devices: their physics is
    their own, so it matches the fleet's minute for minute."""
    chosen = [f for f in faults if str(f.fault_type) in SHOWN_WHILE_RUNNING]
    if not chosen:
        return {}
    ids = {f.device_id for f in chosen}
    devices = tuple(d for d in layout.devices if d.device_id in ids)
    sites = {d.site_id for d in devices}
    twin_layout = FleetLayout(
        sites=tuple(s for s in layout.sites if s.site_id in sites), devices=devices
    )
    twin_events = [
        dataclasses.replace(e, device_ids=tuple(i for i in e.device_ids if i in ids))
        for e in events
        if ids.intersection(e.device_ids)
    ]
    twin = FleetGenerator(
        twin_layout, [], seed=config.seed, events=twin_events, origin=config.start
    ).frame(config.test_start, config.test_end, with_state=True)
    running = twin[twin["compressor_on"] > 0]
    symptoms = {}
    for fault in chosen:
        rows = running[
            # TRICKY: strictly after. A minute's reading is the state at its start, before
            # anything that happens in that minute: the onset minute's reading cannot carry
            # the fault (a compressor dying at the end of its run looks like a cut-out, and
            # only shows when its next run is due).
            (running["device_id"] == fault.device_id) & (running["timestamp"] > fault.start)
        ]
        if len(rows):
            symptoms[fault] = rows["timestamp"].iloc[0].to_pydatetime()
    return symptoms


def _event_case(event) -> EventCase:
    return EventCase(
        event_type=str(event.event_type),
        start=event.start,
        end=event.end,
        site_id=event.site_id,
        device_ids=tuple(event.device_ids),
    )


def raised_alerts() -> list[RaisedAlert]:
    """Every alert an operator saw (suppressed duplicates are not shown), with the times it
    reached each severity."""
    escalations: dict[Any, list[tuple[datetime, str, str]]] = {}
    for alert_id, at, details, note in AlertEvent.objects.filter(
        kind="escalated", alert__suppressed=False
    ).values_list("alert_id", "at", "details", "note"):
        before, after = _escalation(details, note)
        if after:
            escalations.setdefault(alert_id, []).append((at, before, after))
    alerts = []
    # A site-offline incident's alert is the site's, not its first device's: it is scored
    # as an incident (site_incidents), not as an alert on a device.
    shown = DeviceAlert.objects.filter(suppressed=False, site_offline_incident__isnull=True)
    for row in shown.values(
        "alert_id", "device_id", "region", "source", "model_id", "severity", "alert_created_at"
    ):
        steps_up = sorted(escalations.get(row["alert_id"], []))
        first = steps_up[0][1] if steps_up and steps_up[0][1] else row["severity"]
        steps = [(row["alert_created_at"], first)] + [(at, to) for at, _, to in steps_up]
        alerts.append(
            RaisedAlert(
                device_id=row["device_id"],
                region=row["region"],
                source=row["source"],
                rule=row["model_id"],
                steps=tuple(steps),
            )
        )
    return alerts


def _escalation(details: dict, note: str) -> tuple[str, str]:
    """Read (from, to) severities of an escalation event."""
    if details.get("to"):
        return str(details.get("from", "")), str(details["to"])
    before, _, after = (note or "").partition(" -> ")
    words = after.split()
    return before.strip(), (words[0].rstrip(":") if words else "")


def site_incidents() -> list[SiteIncident]:
    """Site-wide incidents: sites gone silent, and storms of CRITICAL alerts."""
    offline = [
        SiteIncident(site_id=i.site_id, kind="site_offline", opened_at=i.opened_at)
        for i in SiteOfflineIncident.objects.all()
    ]
    storms = [
        SiteIncident(site_id=s.site_id or "", kind=f"storm:{s.scope}", opened_at=s.started_at)
        for s in StormIncident.objects.all()
    ]
    return offline + storms


@contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[phase] = round(time.perf_counter() - started, 1)
