"""Every Celery task execution recorded as a JobRun (domain §5.1: status, runtime, rows,
delay against the schedule), from Celery's task signals.

`connect()` hooks the signals once per process; fleetmon/celery.py calls it right after
creating the app, so workers record every task (tests connect it in a fixture). This
module imports no Django model at import time: the Celery app imports it before Django is
set up.

Rows convention: what a task *returns* says how many rows it wrote.
- an int: that many rows;
- a dict: its "rows" entry, else "written", else "metrics", when that is an int; otherwise,
  when every value is an int, their sum (refresh_features_task returns {15: n, 60: m});
- a list or tuple: its length (scheduled_scoring_task returns the runs it dispatched);
- anything else (None, a string, a bool): no count, and the zero-rows monitor ignores it.

Schedule delay (beat tasks only: beat marks its messages with the `celery_beat_task`
header). The entry is the CELERY_BEAT_SCHEDULE entry with the task's name, args and kwargs.
- crontab entries: the due time is the entry's last firing at or before the start, walked
  back over its minute/hour/day fields in the Celery timezone; delay = start − due time.
- interval entries (`"schedule": 30.0`): beat counts the interval from its own last send,
  which no message carries, so the due time is taken as the previous beat-sent run's start
  plus the interval: the delay then shows a beat or queue stall between two runs (clipped
  at 0), not a constant queue wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery import signals

logger = logging.getLogger(__name__)

_DISPATCH = "monitoring.jobs"
_ROW_KEYS = ("rows", "written", "metrics")
_MAX_ERROR = 4000
# task id -> (JobRun pk, start) of its executions running in this process, innermost last
# (an eager retry runs the retry inside the first execution).
_open: dict[str, list[tuple[int, datetime]]] = {}
_open_lock = threading.Lock()

# ---------------------------------------------------------------- pure helpers


def rows_from_result(result) -> int | None:
    """The row count a task's return value carries (see the module docstring)."""
    if isinstance(result, bool):
        return None
    if isinstance(result, int):
        return result
    if isinstance(result, dict):
        for key in _ROW_KEYS:
            value = result.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        values = list(result.values())
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return sum(values)
        return None
    if isinstance(result, list | tuple):
        return len(result)
    return None


def beat_entry(schedule: dict, *, task_name: str, args: Iterable, kwargs: dict) -> dict | None:
    """The beat entry that sends `task_name` with these args and kwargs, if any."""
    for entry in schedule.values():
        if (
            entry.get("task") == task_name
            and list(entry.get("args", ())) == list(args or ())
            and dict(entry.get("kwargs", {})) == dict(kwargs or {})
        ):
            return entry
    return None


def interval_of(schedule) -> timedelta | None:
    """The period of an interval schedule (seconds, timedelta or celery `schedule`)."""
    if isinstance(schedule, int | float):
        return timedelta(seconds=schedule)
    if isinstance(schedule, timedelta):
        return schedule
    run_every = getattr(schedule, "run_every", None)
    return run_every if isinstance(run_every, timedelta) else None


def last_due(cron, at: datetime, tz: ZoneInfo, *, max_days: int = 400) -> datetime | None:
    """The last time at or before `at` (aware) when crontab `cron` fired, in UTC.

    Celery fires when every field matches (day of month *and* day of week); day_of_week
    counts from Sunday = 0.
    """
    local = at.astimezone(tz).replace(second=0, microsecond=0)
    hours = sorted(cron.hour, reverse=True)
    minutes = sorted(cron.minute, reverse=True)
    for back in range(max_days + 1):
        day = (local - timedelta(days=back)).date()
        if (
            day.month not in cron.month_of_year
            or day.day not in cron.day_of_month
            or day.isoweekday() % 7 not in cron.day_of_week
        ):
            continue
        for hour in hours:
            if back == 0 and hour > local.hour:
                continue
            for minute in minutes:
                if back == 0 and hour == local.hour and minute > local.minute:
                    continue
                due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                return due.astimezone(ZoneInfo("UTC"))
    return None


def due_times(cron, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every firing of crontab `cron` in [start, end), in UTC, oldest first."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    dues = []
    day = local_start.date()
    while day <= local_end.date():
        if (
            day.month in cron.month_of_year
            and day.day in cron.day_of_month
            and day.isoweekday() % 7 in cron.day_of_week
        ):
            for hour in sorted(cron.hour):
                for minute in sorted(cron.minute):
                    due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    if start <= due < end:
                        dues.append(due.astimezone(ZoneInfo("UTC")))
        day += timedelta(days=1)
    return dues


def is_crontab(schedule) -> bool:
    return all(
        hasattr(schedule, name)
        for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
    )


def celery_tz() -> ZoneInfo:
    from django.conf import settings

    return ZoneInfo(getattr(settings, "CELERY_TIMEZONE", None) or "UTC")


# ---------------------------------------------------------------- the schedule


def scheduled_for(
    *, task_name: str, args, kwargs, started_at: datetime, previous_start: datetime | None
) -> datetime | None:
    """When the beat schedule wanted this beat-sent run to start (module docstring)."""
    from django.conf import settings

    entry = beat_entry(
        getattr(settings, "CELERY_BEAT_SCHEDULE", {}),
        task_name=task_name,
        args=args,
        kwargs=kwargs,
    )
    if entry is None:
        return None
    schedule = entry["schedule"]
    interval = interval_of(schedule)
    if interval is not None:
        return previous_start + interval if previous_start else None
    if is_crontab(schedule):
        return last_due(schedule, started_at, celery_tz())
    return None  # solar and custom schedules: no delay


# ---------------------------------------------------------------- recording


def _sent_by_beat(request) -> bool:
    if getattr(request, "celery_beat_task", False):
        return True
    headers = getattr(request, "headers", None) or {}
    return bool(headers.get("celery_beat_task"))


def job_run_start(*, task_name: str, task_id: str, request, args, kwargs) -> None:
    """Record that an execution started; remember its row for the end signals."""
    from django.utils import timezone

    from monitoring.models import JobRun, JobStatus

    now = timezone.now()
    beat = _sent_by_beat(request)
    due = None
    if beat:
        previous = (
            JobRun.objects.filter(task_name=task_name, beat=True)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        due = scheduled_for(
            task_name=task_name, args=args, kwargs=kwargs, started_at=now, previous_start=previous
        )
    run = JobRun.objects.create(
        task_name=task_name,
        task_id=task_id or "",
        status=JobStatus.STARTED,
        worker=getattr(request, "hostname", None) or "",
        beat=beat,
        retries=getattr(request, "retries", 0) or 0,
        started_at=now,
        scheduled_for=due,
        delay_seconds=None if due is None else max(0.0, (now - due).total_seconds()),
    )
    with _open_lock:
        _open.setdefault(task_id, []).append((run.pk, now))


def _current(task_id: str, *, pop: bool):
    """(pk, started_at) of the task's running execution: remembered here, else (another
    process sent the signal, e.g. a prefork parent on a hard time limit) its open row."""
    from monitoring.models import JobRun, JobStatus

    with _open_lock:
        stack = _open.get(task_id)
        known = (stack.pop() if pop else stack[-1]) if stack else None
        if stack == []:
            del _open[task_id]
    if known:
        return known
    row = (
        JobRun.objects.filter(task_id=task_id, status=JobStatus.STARTED)
        .order_by("-started_at")
        .values_list("pk", "started_at")
        .first()
    )
    return tuple(row) if row else None


def job_run_fail(*, task_id: str, error: str) -> None:
    from monitoring.models import JobRun, JobStatus

    current = _current(task_id, pop=False)
    if current:
        JobRun.objects.filter(pk=current[0]).update(
            status=JobStatus.FAILED, error=error[:_MAX_ERROR]
        )


def job_run_retry(*, task_id: str, reason: str) -> None:
    from monitoring.models import JobRun, JobStatus

    current = _current(task_id, pop=False)
    if current:
        JobRun.objects.filter(pk=current[0]).update(
            status=JobStatus.RETRIED, error=reason[:_MAX_ERROR]
        )


# Celery's end states -> ours. A retry or failure was already marked by its own signal.
_END_STATES = {"SUCCESS": "succeeded", "IGNORED": "succeeded", "FAILURE": "failed"}


def job_run_finish(*, task_id: str, state: str, result) -> None:
    """Close the execution: end time, runtime, status, and the rows of a success."""
    from django.utils import timezone

    from monitoring.models import JobRun, JobStatus

    current = _current(task_id, pop=True)
    if not current:
        return
    pk, started_at = current
    now = timezone.now()
    fields = {"finished_at": now, "runtime_seconds": (now - started_at).total_seconds()}
    if state == "RETRY":
        fields["status"] = JobStatus.RETRIED
    elif state == "REJECTED":
        fields["status"] = JobStatus.FAILED
    elif state in _END_STATES:
        fields["status"] = _END_STATES[state]
    if state == "SUCCESS":
        fields["rows"] = rows_from_result(result)
    JobRun.objects.filter(pk=pk).update(**fields)


# ---------------------------------------------------------------- signal handlers


def _guarded(action: str, fn, **kwargs) -> None:
    """Recording must never break the task it records."""
    try:
        fn(**kwargs)
    except Exception:
        logger.exception("could not record job %s for task %s", action, kwargs.get("task_id"))


def _on_prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    _guarded(
        "start",
        job_run_start,
        task_name=task.name,
        task_id=task_id,
        request=task.request,
        args=args,
        kwargs=kwargs,
    )


def _on_failure(sender=None, task_id=None, exception=None, einfo=None, **_):
    text = f"{type(exception).__name__}: {exception}"
    if einfo is not None:
        text = f"{text}\n{einfo.traceback}"
    _guarded("failure", job_run_fail, task_id=task_id, error=text)


def _on_retry(sender=None, request=None, reason=None, **_):
    _guarded("retry", job_run_retry, task_id=getattr(request, "id", None), reason=str(reason))


def _on_postrun(sender=None, task_id=None, retval=None, state=None, **_):
    _guarded("end", job_run_finish, task_id=task_id, state=state or "", result=retval)


_HANDLERS = (
    (signals.task_prerun, _on_prerun),
    (signals.task_failure, _on_failure),
    (signals.task_retry, _on_retry),
    (signals.task_postrun, _on_postrun),
)


def connect() -> None:
    """Record every task run from now on, in this process (idempotent)."""
    for signal, handler in _HANDLERS:
        signal.connect(handler, weak=False, dispatch_uid=f"{_DISPATCH}.{handler.__name__}")


def disconnect() -> None:
    for signal, handler in _HANDLERS:
        signal.disconnect(handler, dispatch_uid=f"{_DISPATCH}.{handler.__name__}")
